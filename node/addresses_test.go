package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/transport/hello"
)

// TestServeWritesAddresses: a node configured with port 0 everywhere writes
// the ports it bound to its addresses file, advertises those (hello, gossip)
// and removes the file when it stops.
func TestServeWritesAddresses(t *testing.T) {
	nodes := startFed(t, "hcm", "moh")
	hcm, moh := nodes["hcm"], nodes["moh"]
	l, err := ListenAPI(hcm.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hcm.Serve(ctx, l) }()
	stop := sync.OnceValue(func() error { cancel(); return <-served })
	defer stop()

	var a Addresses
	waitFor(t, "the addresses file", func() bool { a, err = ReadAddresses(hcm.cfg.Dir); return err == nil })
	bound := func(hostport string) bool { _, p, err := net.SplitHostPort(hostport); return err == nil && p != "0" }
	if a.PID != os.Getpid() || a.Name != "hcm" || a.PeerID != hcm.PeerID() || !bound(a.API) || !bound(a.Gossip) || len(a.P2P) != 1 {
		t.Fatalf("addresses file: %+v", a)
	}
	if want := hcm.fed.host.Addrs()[0].String() + "/p2p/" + hcm.PeerID(); a.P2P[0] != want || strings.Contains(want, "/tcp/0/") {
		t.Fatalf("p2p address %s, want %s", a.P2P[0], want)
	}
	resp, err := http.Get("http://" + a.API + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz at the file's API address: %d", resp.StatusCode)
	}
	in, err := hello.Ask(ctx, moh.fed.host, hcm.fed.host.ID())
	if err != nil || in.API != a.API {
		t.Fatalf("hello from hcm: %+v %v; want api %s", in, err, a.API)
	}
	// Gossip started later, on the socket bound at start: peers see it at
	// the address in the file.
	waitFor(t, "moh to see hcm's gossip at "+a.Gossip, func() bool {
		g := moh.fed.gossip.Load()
		if g == nil {
			return false
		}
		p, ok := g.Peer("hcm")
		return ok && p.Addr == a.Gossip
	})

	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(filepath.Join(hcm.cfg.Dir, AddressesFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("addresses file after a clean stop: %v", err)
	}
}

// TestBindFailsFast: an address in use stops the node at start with ErrBind,
// naming the setting and the address.
func TestBindFailsFast(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		key string
		set func(*Config)
	}{
		{"api.listen", func(c *Config) { c.API.Listen = addr }},
		{"p2p.listen", func(c *Config) { c.P2P.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/" + port} }},
		{"gossip.listen", func(c *Config) { c.Gossip.Listen = addr }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "n")
			cfg := DefaultConfig("n")
			cfg.Role = "seed"
			cfg.API.Listen, cfg.P2P.Listen, cfg.Gossip.Listen = "127.0.0.1:0", []string{"/ip4/127.0.0.1/tcp/0"}, "127.0.0.1:0"
			tc.set(&cfg)
			if _, err := Init(dir, cfg); err != nil {
				t.Fatal(err)
			}
			if cfg, err = LoadConfig(dir); err != nil {
				t.Fatal(err)
			}
			if tc.key == "api.listen" {
				_, err = ListenAPI(cfg)
			} else {
				var n *Node
				if n, err = New(cfg, Options{Bootstrap: true, FastTimers: true}); err == nil {
					n.Close()
				}
			}
			msg := fmt.Sprint(err)
			if !errors.Is(err, ErrBind) || !strings.Contains(msg, tc.key) || !strings.Contains(msg, port) ||
				!strings.Contains(msg, "another process holds it") {
				t.Fatalf("start with %s on a taken port: %v; want ErrBind naming %s, port %s and what to do", tc.key, err, tc.key, port)
			}
		})
	}
}

// TestBindReleasedOnFailure: a node that failed to bind one address
// releases what it had opened (its store, its other sockets), so that a
// start with a corrected config succeeds.
func TestBindReleasedOnFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	dir := filepath.Join(t.TempDir(), "n")
	cfg := DefaultConfig("n")
	cfg.Role = "seed"
	cfg.API.Listen, cfg.Gossip.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/" + port}
	if _, err := Init(dir, cfg); err != nil {
		t.Fatal(err)
	}
	cfg, _ = LoadConfig(dir)
	if _, err := New(cfg, Options{Bootstrap: true}); !errors.Is(err, ErrBind) {
		t.Fatalf("start on a taken p2p port: %v", err)
	}
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	n, err := New(cfg, Options{Bootstrap: true, FastTimers: true})
	if err != nil {
		t.Fatalf("second start with a free port: %v", err)
	}
	n.Close()
}

// TestAdvertise: a node with p2p.advertise announces those addresses and
// not what it listens on; one with gossip.advertise is gossiped with at it
// (bound to 0.0.0.0, it would otherwise announce its first private IP).
func TestAdvertise(t *testing.T) {
	const dns = "/dns4/hcm.example.gov.vn/tcp/7171"
	nodes := startFedWith(t, func(name string, cfg *Config) {
		if name == "hcm" {
			cfg.P2P.Advertise = []string{dns}
			cfg.Gossip.Listen, cfg.Gossip.Advertise = "0.0.0.0:0", "127.0.0.1:0"
		}
	}, "s1", "hcm")
	s1, hcm := nodes["s1"], nodes["hcm"]
	if got := hcm.fed.addrs(); len(got) != 1 || got[0] != dns {
		t.Fatalf("hcm announces %v, want [%s]", got, dns)
	}
	waitFor(t, "s1 gossips with hcm at 127.0.0.1 and learns its advertised address", func() bool {
		for _, p := range s1.fed.peers() {
			if p.Name == "hcm" {
				host, _, _ := net.SplitHostPort(p.Addr)
				return host == "127.0.0.1" && p.State == "alive" && slices.Contains(p.Meta.Addrs, dns)
			}
		}
		return false
	})
}
