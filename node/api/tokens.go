package api

import (
	"net/http"
	"time"
)

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// TokenCreated is the answer to POST /v1/tokens: the token, shown once.
type TokenCreated struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": s.cfg.Tokens.List()})
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		s.fail(w, r, badRequest("%v", err))
		return
	}
	tok, err := s.cfg.Tokens.Create(req.Name, role, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, TokenCreated{Name: req.Name, Role: role.String(), Token: tok})
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Tokens.Revoke(r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": r.PathValue("name")})
}
