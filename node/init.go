package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lienthong/lienthong/node/api"
)

// InitResult is what Init created; the tokens are shown only once.
type InitResult struct {
	Name       string `json:"name"`
	Dir        string `json:"dir"`
	PeerID     string `json:"peer_id"`
	APIURL     string `json:"api_url"`
	AdminToken string `json:"admin_token"`
	WriteToken string `json:"write_token"`
	ReadToken  string `json:"read_token"`
	// MetricsToken scrapes /metrics only (for Prometheus).
	MetricsToken string `json:"metrics_token"`
}

// Init creates a node directory: configuration with commented defaults, an
// ed25519 identity, and one token per role. The admin token is also kept in
// dir/admin.token (mode 0600) so that local CLI commands can use --dir.
// It refuses to touch a directory that already holds a node.
func Init(dir string, cfg Config) (*InitResult, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("%w: %s already holds a node; use another --dir or remove it", ErrConfig, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	res := &InitResult{Name: cfg.Name, Dir: dir, APIURL: cfg.APIURL(cfg.API.Listen)}
	cfg.API.Tokens = nil
	for _, t := range []struct {
		role api.Role
		out  *string
	}{{api.RoleAdmin, &res.AdminToken}, {api.RoleWrite, &res.WriteToken}, {api.RoleRead, &res.ReadToken}, {api.RoleMetrics, &res.MetricsToken}} {
		tok, h := api.NewToken(t.role)
		*t.out = tok
		cfg.API.Tokens = append(cfg.API.Tokens, h)
	}
	cfg.Dir = dir
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	id, err := newIdentity(dir)
	if err != nil {
		return nil, err
	}
	res.PeerID = id.String()
	if err := os.WriteFile(filepath.Join(dir, AdminTokenFile), []byte(res.AdminToken+"\n"), 0o600); err != nil {
		return nil, err
	}
	// The config goes last: its presence marks a complete node directory.
	if err := writeConfig(dir, cfg); err != nil {
		return nil, errors.Join(err, os.Remove(filepath.Join(dir, IdentityFile)))
	}
	return res, nil
}
