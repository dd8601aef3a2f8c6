package api

import (
	"errors"
	"testing"
	"time"
)

// TestTokensCreateRevoke: a made token has its role at once and none once
// revoked; a failed save changes nothing; bad names and roles are refused.
func TestTokensCreateRevoke(t *testing.T) {
	cfgTok, cfgHash := NewToken(RoleAdmin)
	var saved []TokenHash
	fail := false
	ts := NewTokens([]TokenHash{cfgHash}, nil, func(l []TokenHash) error {
		if fail {
			return errors.New("disk full")
		}
		saved = l
		return nil
	})
	tok, err := ts.Create("portal", RoleRead, time.Now())
	if err != nil || ts.Role(tok) != RoleRead || len(saved) != 1 || saved[0].Name != "portal" {
		t.Fatalf("create: %v, role %v, saved %+v", err, ts.Role(tok), saved)
	}
	if ts.Role(cfgTok) != RoleAdmin || ts.Role("lt_read_nope") != RoleNone {
		t.Fatal("the config token or an unknown one")
	}
	fail = true
	if _, err := ts.Create("other", RoleWrite, time.Now()); err == nil || len(ts.List()) != 2 {
		t.Fatalf("create with a failing save: %v, %d tokens", err, len(ts.List()))
	}
	if err := ts.Revoke("portal"); err == nil || ts.Role(tok) != RoleRead {
		t.Fatalf("revoke with a failing save: %v; the token must still work", err)
	}
	fail = false
	if err := ts.Revoke("portal"); err != nil || ts.Role(tok) != RoleNone || len(saved) != 0 {
		t.Fatalf("revoke: %v, role %v, saved %+v", err, ts.Role(tok), saved)
	}
	for _, name := range []string{"", "Portal", "9lives", "a/b"} {
		if _, err := ts.Create(name, RoleRead, time.Now()); !errors.Is(err, errBadRequest) {
			t.Errorf("create %q: %v, want a bad request", name, err)
		}
	}
	if _, err := ts.Create("x", RoleNone, time.Now()); !errors.Is(err, errBadRequest) {
		t.Errorf("create without a role: %v", err)
	}
}
