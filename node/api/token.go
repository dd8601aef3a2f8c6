package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Role is what a token may do. Each role includes the ones below it.
type Role int

const (
	RoleNone Role = iota
	// RoleMetrics scrapes /metrics and reads nothing else: the token for
	// Prometheus, which must not read citizens' records.
	RoleMetrics
	RoleRead
	RoleWrite
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleMetrics:
		return "metrics"
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "metrics", "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleMetrics, RoleRead, RoleWrite, RoleAdmin} {
		if r.String() == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("role %q: want metrics, read, write or admin", s)
}

// TokenHash is a stored token: its role and the SHA-256 of the token.
type TokenHash struct {
	Role   string `yaml:"role" json:"role"`
	SHA256 string `yaml:"sha256" json:"sha256"`
}

// Validate checks that t names a role and holds a SHA-256.
func (t TokenHash) Validate() error {
	if _, err := ParseRole(t.Role); err != nil {
		return err
	}
	if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("sha256 %q: want 64 hex digits", t.SHA256)
	}
	return nil
}

// NewToken returns a fresh random token for role and its stored hash.
func NewToken(role Role) (string, TokenHash) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := "lt_" + role.String() + "_" + base64.RawURLEncoding.EncodeToString(b)
	return tok, TokenHash{Role: role.String(), SHA256: hashToken(tok)}
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Tokens checks bearer tokens against stored hashes. Safe for concurrent use.
type Tokens struct{ hashes []TokenHash }

// NewTokens returns a checker for hashes, each of which must Validate.
func NewTokens(hashes []TokenHash) *Tokens { return &Tokens{hashes: hashes} }

// Role returns the role of tok, or RoleNone if it is not accepted.
func (t *Tokens) Role(tok string) Role {
	h, _ := hex.DecodeString(hashToken(tok))
	best := RoleNone
	for _, th := range t.hashes {
		want, _ := hex.DecodeString(th.SHA256)
		if subtle.ConstantTimeCompare(h, want) == 1 {
			if r, _ := ParseRole(th.Role); r > best {
				best = r
			}
		}
	}
	return best
}
