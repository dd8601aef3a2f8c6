package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// loopbackAddrs are the listen addresses of every test host.
var loopbackAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

type testNode struct {
	host.Host
	gater *Gater
	logs  *syncBuffer
}

// newTestNode starts a host on loopback (TCP and QUIC) with its own gater
// that admits nobody yet. It is closed at the end of the test.
func newTestNode(t *testing.T) *testNode {
	t.Helper()
	return newTestNodeOn(t, loopbackAddrs...)
}

// newTestNodeOn is newTestNode listening on listen.
func newTestNodeOn(t *testing.T, listen ...string) *testNode {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	g := NewGater(logger)
	h, err := NewHost(HostConfig{Key: key, ListenAddrs: listen, Gater: g, Logger: logger})
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return &testNode{Host: h, gater: g, logs: logs}
}

// syncBuffer is a bytes.Buffer safe for the host's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// addrOf returns n's listen address for transport "tcp" or "quic-v1".
func addrOf(t *testing.T, n host.Host, transport string) ma.Multiaddr {
	t.Helper()
	for _, a := range n.Addrs() {
		last := a.Protocols()[len(a.Protocols())-1].Name
		if last == transport {
			return a
		}
	}
	t.Fatalf("host %s has no %s address among %v", n.ID(), transport, n.Addrs())
	return nil
}

// connectVia dials to over exactly one address of the given transport,
// forgetting any other address from has learned for to.
func connectVia(ctx context.Context, t *testing.T, from, to host.Host, transport string) error {
	t.Helper()
	from.Peerstore().ClearAddrs(to.ID())
	return from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: []ma.Multiaddr{addrOf(t, to, transport)}})
}

// admitEachOther admits every node at every other node's gater.
func admitEachOther(nodes ...*testNode) {
	ids := make([]peer.ID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID()
	}
	for _, n := range nodes {
		n.gater.SetAdmitted(ids)
	}
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func connected(a, b host.Host) bool {
	return a.Network().Connectedness(b.ID()) == network.Connected
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
