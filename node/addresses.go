package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrBind is wrapped by the error of a node that cannot bind an address its
// configuration names (api.listen, p2p.listen, gossip.listen).
var ErrBind = errors.New("node: cannot bind a configured address")

// Addresses are what a running node bound, as written to AddressesFile in
// its directory once every listener is bound: with port 0 in the config,
// this is how scripts, tests and local commands learn the ports.
type Addresses struct {
	// PID is the process that wrote the file; a reader waiting for a node
	// it started compares it, since a killed node leaves its file behind.
	PID    int    `json:"pid"`
	Name   string `json:"name"`
	PeerID string `json:"peer_id"`
	// API is the HTTP API's host:port; APIURL its base URL (https:// when
	// the API serves TLS).
	API    string `json:"api"`
	APIURL string `json:"api_url"`
	// P2P are the libp2p addresses, each ending in /p2p/PEER_ID (usable
	// with start --join); Gossip is the memberlist host:port. Both are
	// empty for a node that is not federated.
	P2P    []string `json:"p2p,omitempty"`
	Gossip string   `json:"gossip,omitempty"`
}

// ReadAddresses reads dir/addresses.json, written by a running node.
func ReadAddresses(dir string) (Addresses, error) {
	path := filepath.Join(dir, AddressesFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Addresses{}, fmt.Errorf("%s does not exist: the node writes it once it listens (is it running?): %w", path, err)
	}
	if err != nil {
		return Addresses{}, err
	}
	var a Addresses
	if err := json.Unmarshal(b, &a); err != nil {
		return Addresses{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// writeAddresses replaces dir/addresses.json atomically: a reader sees the
// previous file or the whole new one.
func writeAddresses(dir string, a Addresses) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, AddressesFile+".tmp*")
	if err != nil {
		return fmt.Errorf("write the addresses file: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, AddressesFile))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write the addresses file: %w", err)
	}
	return nil
}

// ListenAPI binds the API's configured address (api.listen). Its error,
// wrapping ErrBind, says which address, which setting and what to do.
func ListenAPI(cfg Config) (net.Listener, error) {
	l, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return nil, bindError(cfg, "api.listen", cfg.API.Listen, err)
	}
	return l, nil
}

// bindError explains a failure to bind addr, set by key in cfg's file.
func bindError(cfg Config, key, addr string, err error) error {
	todo := "check that the address is one of this host's and that the port may be used"
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), syscall.EADDRINUSE.Error()) {
		todo = "another process holds it (another lienthong node on this host?): stop that process, or set " + key + " to a free port"
	}
	return fmt.Errorf("%w: %s %s (in %s): %v; %s (port 0 picks a free one, written to %s once bound)",
		ErrBind, key, addr, filepath.Join(cfg.Dir, ConfigFile), err, todo, filepath.Join(cfg.Dir, AddressesFile))
}
