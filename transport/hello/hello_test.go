package hello

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/lienthong/lienthong/transport"
)

func newHost(t *testing.T, g *transport.Gater) host.Host {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestAsk(t *testing.T) {
	ga, gb := transport.NewGater(nil), transport.NewGater(nil)
	a, b := newHost(t, ga), newHost(t, gb)
	ga.SetAdmitted([]peer.ID{b.ID()})
	gb.SetAdmitted([]peer.ID{a.ID()})
	a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
	Serve(b, func() Info { return Info{Name: "hcm", Gossip: "127.0.0.1:7946", API: "127.0.0.1:7070"} })
	in, err := Ask(context.Background(), a, b.ID())
	if err != nil || in != (Info{Name: "hcm", Gossip: "127.0.0.1:7946", API: "127.0.0.1:7070"}) {
		t.Fatalf("Ask: %+v %v", in, err)
	}
	// A peer that is not admitted gets nothing.
	gc := transport.NewGater(nil)
	c := newHost(t, gc)
	gc.SetAdmitted([]peer.ID{b.ID()}) // c would talk to b; b refuses c
	c.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
	if _, err := Ask(context.Background(), c, b.ID()); err == nil {
		t.Fatal("a non-admitted peer got an answer")
	}
}

func TestDecode(t *testing.T) {
	if in, err := Decode([]byte(`{"name":"hcm","gossip":"127.0.0.1:7946","api":"127.0.0.1:7070"}`)); err != nil || in.Name != "hcm" {
		t.Fatalf("a good hello: %+v, %v", in, err)
	}
	for _, bad := range []string{`{`, `{"gossip":"127.0.0.1:1"}`, `{"name":"a","gossip":"nowhere"}`, `{"name":"a","api":"1.2.3.4:"}`, `[]`} {
		if in, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: accepted as %+v", bad, in)
		}
	}
}

// FuzzDecode: a peer's hello never panics the decoder, and what it accepts
// has a name and usable addresses.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"hcm","gossip":"127.0.0.1:7946","api":"[::1]:7070"}`))
	f.Add([]byte(`{"name":"","gossip":":"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Decode(b)
		if err != nil {
			return
		}
		if in.Name == "" {
			t.Fatalf("accepted %q without a name", b)
		}
	})
}
