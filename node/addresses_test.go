package node

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
