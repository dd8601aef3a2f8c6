package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
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

// TokenHash is a stored token: its role and the SHA-256 of the token; a
// token made through the API (Tokens.Create) also has a name and a time.
type TokenHash struct {
	Role    string    `yaml:"role" json:"role"`
	SHA256  string    `yaml:"sha256" json:"sha256"`
	Name    string    `yaml:"-" json:"name,omitempty"`
	Created time.Time `yaml:"-" json:"created,omitzero"`
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

// Errors of token management.
var (
	ErrTokenExists  = errors.New("api: a token of that name exists")
	ErrTokenUnknown = errors.New("api: no token of that name")
)

// Tokens checks bearer tokens against stored hashes: those of the config
// (lienthong.yaml, changed only by editing it and restarting) and those
// made and revoked through the API, which take effect at once. Safe for
// concurrent use.
type Tokens struct {
	config []TokenHash
	save   func([]TokenHash) error

	mu      sync.RWMutex
	managed []TokenHash
}

// NewTokens returns a checker for the config's hashes and the managed ones
// (each must Validate); save, if not nil, persists the managed list after
// each change, which fails if save does.
func NewTokens(config, managed []TokenHash, save func([]TokenHash) error) *Tokens {
	return &Tokens{config: config, managed: managed, save: save}
}

// Role returns the role of tok, or RoleNone if it is not accepted.
func (t *Tokens) Role(tok string) Role {
	h, _ := hex.DecodeString(hashToken(tok))
	best := RoleNone
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, list := range [][]TokenHash{t.config, t.managed} {
		for _, th := range list {
			want, _ := hex.DecodeString(th.SHA256)
			if subtle.ConstantTimeCompare(h, want) == 1 {
				if r, _ := ParseRole(th.Role); r > best {
					best = r
				}
			}
		}
	}
	return best
}

// TokenInfo describes a token without what would let anyone use it.
type TokenInfo struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Source is "config" (lienthong.yaml) or "api" (token create).
	Source string `json:"source"`
	// SHA256Prefix is the start of the token's hash, to tell tokens apart.
	SHA256Prefix string    `json:"sha256_prefix"`
	Created      time.Time `json:"created,omitzero"`
}

// List describes every accepted token, the config's first.
func (t *Tokens) List() []TokenInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []TokenInfo
	for i, th := range t.config {
		out = append(out, TokenInfo{Name: fmt.Sprintf("config-%d", i), Role: th.Role, Source: "config", SHA256Prefix: th.SHA256[:12]})
	}
	for _, th := range t.managed {
		out = append(out, TokenInfo{Name: th.Name, Role: th.Role, Source: "api", SHA256Prefix: th.SHA256[:12], Created: th.Created})
	}
	return out
}

// Create makes a token named name for role and returns it: this is the only
// time it is seen; only its hash is kept.
func (t *Tokens) Create(name string, role Role, now time.Time) (string, error) {
	if !validTokenName(name) {
		return "", badRequest("token name %q: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter", name)
	}
	if role == RoleNone {
		return "", badRequest("a token needs a role: metrics, read, write or admin")
	}
	tok, h := NewToken(role)
	h.Name, h.Created = name, now.UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, th := range t.managed {
		if th.Name == name {
			return "", fmt.Errorf("%w: %q (revoke it first, or choose another name)", ErrTokenExists, name)
		}
	}
	next := append(slices.Clone(t.managed), h)
	if t.save != nil {
		if err := t.save(next); err != nil {
			return "", err
		}
	}
	t.managed = next
	return tok, nil
}

// Revoke removes the managed token named name; requests with it are
// refused from then on.
func (t *Tokens) Revoke(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.IndexFunc(t.managed, func(th TokenHash) bool { return th.Name == name })
	if i < 0 {
		if strings.HasPrefix(name, "config-") {
			return fmt.Errorf("%w: %q is in lienthong.yaml: remove its line under api.tokens and restart the node", ErrTokenUnknown, name)
		}
		return fmt.Errorf("%w: %q (lienthong token list shows them)", ErrTokenUnknown, name)
	}
	next := slices.Delete(slices.Clone(t.managed), i, i+1)
	if t.save != nil {
		if err := t.save(next); err != nil {
			return err
		}
	}
	t.managed = next
	return nil
}

func validTokenName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
