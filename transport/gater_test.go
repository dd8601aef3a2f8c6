package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const echoProto protocol.ID = "/lienthong/test/echo/1.0.0"

func serveEcho(nodes ...*testNode) {
	for _, n := range nodes {
		Handle(n, echoProto, 1<<10, time.Second, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
			return bytes.ToUpper(req), nil
		})
	}
}

func echo(ctx context.Context, from, to *testNode) error {
	resp, err := Request(ctx, from, to.ID(), echoProto, []byte("xin chao"), 1<<10)
	if err != nil {
		return err
	}
	if string(resp) != "XIN CHAO" {
		return errors.New("bad echo: " + string(resp))
	}
	return nil
}

func TestAdmittedPeersConnectBothWays(t *testing.T) {
	for _, tr := range []string{"tcp", "quic-v1"} {
		t.Run(tr, func(t *testing.T) {
			a, b := newTestNode(t), newTestNode(t)
			admitEachOther(a, b)
			serveEcho(a, b)
			for _, dir := range []struct {
				name     string
				from, to *testNode
			}{{"a_to_b", a, b}, {"b_to_a", b, a}} {
				ctx := ctxTimeout(t, 10*time.Second)
				if err := connectVia(ctx, t, dir.from, dir.to, tr); err != nil {
					t.Fatalf("%s: connect over %s: %v", dir.name, tr, err)
				}
				conns := dir.from.Network().ConnsToPeer(dir.to.ID())
				if len(conns) != 1 {
					t.Fatalf("%s: %d connections, want 1", dir.name, len(conns))
				}
				c := conns[0]
				if !strings.Contains(c.RemoteMultiaddr().String(), "/"+tr) {
					t.Fatalf("%s: connection over %s, want %s", dir.name, c.RemoteMultiaddr(), tr)
				}
				t.Logf("%s over %s: security %s, muxer %s", dir.name, c.RemoteMultiaddr(), c.ConnState().Security, c.ConnState().StreamMultiplexer)
				if err := echo(ctx, dir.from, dir.to); err != nil {
					t.Fatalf("%s: echo: %v", dir.name, err)
				}
				if err := echo(ctx, dir.to, dir.from); err != nil {
					t.Fatalf("%s: echo back: %v", dir.name, err)
				}
				// Start the other direction from no connection.
				if err := dir.from.Network().ClosePeer(dir.to.ID()); err != nil {
					t.Fatal(err)
				}
				eventually(t, 5*time.Second, "disconnect", func() bool { return !connected(a, b) && !connected(b, a) })
			}
		})
	}
}

func TestNonAdmittedPeerRefused(t *testing.T) {
	for _, tr := range []string{"tcp", "quic-v1"} {
		t.Run(tr, func(t *testing.T) {
			a, b, intruder := newTestNode(t), newTestNode(t), newTestNode(t)
			admitEachOther(a, b)
			// The intruder would talk to anyone; a and b never admitted it.
			intruder.gater.SetAdmitted([]peer.ID{a.ID(), b.ID()})
			serveEcho(a, b, intruder)

			for _, victim := range []*testNode{a, b} {
				ctx := ctxTimeout(t, 10*time.Second)
				refusedBefore := victim.gater.Refused()

				// Inbound: the intruder dials the victim, which refuses after
				// the handshake. The intruder may briefly see a connection;
				// it must not survive, and no stream may open on it.
				cerr := connectVia(ctx, t, intruder, victim, tr)
				t.Logf("intruder connect over %s: %v", tr, cerr)
				if err := echo(ctx, intruder, victim); err == nil {
					t.Fatalf("intruder opened a stream to %s over %s", victim.ID(), tr)
				} else {
					t.Logf("intruder -> victim over %s: %v", tr, err)
				}
				eventually(t, 5*time.Second, "intruder disconnected", func() bool {
					return !connected(victim, intruder) && !connected(intruder, victim)
				})
				if victim.gater.Refused() == refusedBefore {
					t.Fatalf("victim's gater counted no refusal")
				}
				if n := testutil.ToFloat64(victim.gater.counters.WithLabelValues("inbound", "not_admitted")); n == 0 {
					t.Fatalf("lienthong_p2p_connections_refused_total{inbound,not_admitted} = 0 after an intruder's connection")
				}
				if logs := victim.logs.String(); !strings.Contains(logs, "level=WARN msg=\"connection refused\" peer="+intruder.ID().String()) {
					t.Fatalf("no warning names the intruder:\n%s", logs)
				}

				// Outbound: the victim never dials the intruder, even when
				// told its address.
				victim.Peerstore().AddAddr(intruder.ID(), addrOf(t, intruder, tr), time.Hour)
				err := connectVia(ctx, t, victim, intruder, tr)
				if !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
					t.Fatalf("victim dialing intruder: err = %v, want ErrGaterDisallowedConnection", err)
				}
				if err := echo(ctx, victim, intruder); err == nil || !strings.Contains(err.Error(), intruder.ID().String()) || !strings.Contains(err.Error(), string(echoProto)) {
					t.Fatalf("victim request to intruder: err = %v, want a refusal naming peer and protocol", err)
				}
			}
			// a and b still talk.
			if err := connectVia(ctxTimeout(t, 10*time.Second), t, a, b, tr); err != nil {
				t.Fatalf("admitted peers: %v", err)
			}
			if err := echo(ctxTimeout(t, 10*time.Second), a, b); err != nil {
				t.Fatalf("admitted peers: %v", err)
			}
		})
	}
}

func TestRemovedPeerDisconnected(t *testing.T) {
	a, b := newTestNode(t), newTestNode(t)
	admitEachOther(a, b)
	serveEcho(a, b)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := connectVia(ctx, t, b, a, "tcp"); err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, b, a); err != nil {
		t.Fatal(err)
	}

	a.gater.SetAdmitted([]peer.ID{a.ID()}) // b removed from the federation
	if got := a.gater.Enforce(a); !slices.Equal(got, []peer.ID{b.ID()}) {
		t.Fatalf("Enforce closed %v, want [%s]", got, b.ID())
	}
	eventually(t, 5*time.Second, "b disconnected", func() bool { return !connected(a, b) && !connected(b, a) })

	for _, tr := range []string{"tcp", "quic-v1"} {
		_ = connectVia(ctx, t, b, a, tr)
		if err := echo(ctx, b, a); err == nil {
			t.Fatalf("removed peer reconnected over %s", tr)
		}
		if err := echo(ctx, a, b); err == nil {
			t.Fatalf("a reached removed peer")
		}
	}
	if got := a.gater.Enforce(a); len(got) != 0 {
		// A racing half-open connection from b may have been accepted and
		// then refused; nothing allowed is closed.
		t.Logf("second Enforce closed %v", got)
	}
}

func TestBootstrapSeedAllowedBeforeAdmission(t *testing.T) {
	node, seed := newTestNode(t), newTestNode(t)
	seed.gater.SetAdmitted([]peer.ID{node.ID(), seed.ID()}) // the seed knows the new node
	node.gater.SetBootstrap([]peer.ID{seed.ID()})           // the node knows only its seed
	serveEcho(node, seed)
	if !node.gater.Allowed(seed.ID()) {
		t.Fatal("seed not allowed by bootstrap")
	}
	ctx := ctxTimeout(t, 10*time.Second)
	if err := connectVia(ctx, t, node, seed, "quic-v1"); err != nil {
		t.Fatalf("node to seed: %v", err)
	}
	if err := echo(ctx, node, seed); err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, seed, node); err != nil {
		t.Fatal(err)
	}
	// Synced, and the metadata does not list the seed (odd, but possible):
	// clearing the bootstrap set disconnects it.
	node.gater.SetBootstrap(nil)
	if got := node.gater.Enforce(node); len(got) != 1 {
		t.Fatalf("Enforce closed %v, want the seed", got)
	}
	if err := echo(ctx, seed, node); err == nil {
		t.Fatal("seed still reaches node after bootstrap ended")
	}
}

func TestBlockRefusesAdmittedPeer(t *testing.T) {
	a, b := newTestNode(t), newTestNode(t)
	admitEachOther(a, b)
	serveEcho(a, b)
	ctx := ctxTimeout(t, 15*time.Second)
	if err := connectVia(ctx, t, a, b, "tcp"); err != nil {
		t.Fatal(err)
	}

	a.gater.Block(b.ID())
	if a.gater.Allowed(b.ID()) {
		t.Fatal("blocked peer allowed")
	}
	a.gater.Enforce(a)
	eventually(t, 5*time.Second, "disconnect", func() bool { return !connected(a, b) && !connected(b, a) })
	if err := echo(ctx, a, b); !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		t.Fatalf("a to blocked b: %v", err)
	}
	for _, tr := range []string{"tcp", "quic-v1"} {
		_ = connectVia(ctx, t, b, a, tr)
		if err := echo(ctx, b, a); err == nil {
			t.Fatalf("blocked b reached a over %s", tr)
		}
	}

	a.gater.Unblock(b.ID())
	if err := connectVia(ctx, t, b, a, "tcp"); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
	if err := echo(ctx, a, b); err != nil {
		t.Fatalf("after unblock: %v", err)
	}
}

func TestGaterSets(t *testing.T) {
	ids := make([]peer.ID, 4)
	for i := range ids {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = peer.IDFromPublicKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	g := NewGater(nil)
	g.SetAdmitted(ids[:2])
	g.SetBootstrap(ids[2:3])
	g.Block(ids[1])
	want := []bool{true, false, true, false}
	for i, id := range ids {
		if got := g.Allowed(id); got != want[i] {
			t.Errorf("Allowed(ids[%d]) = %v, want %v", i, got, want[i])
		}
	}
	g.SetAdmitted(nil) // replaces, does not merge
	if g.Allowed(ids[0]) {
		t.Error("SetAdmitted(nil) kept ids[0]")
	}

	// Refusals are counted and logged with peer, direction and reason.
	var logs bytes.Buffer
	g = NewGater(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	g.SetAdmitted(ids[:1])
	g.Block(ids[0])
	if g.InterceptSecured(network.DirInbound, ids[0], nil) || g.InterceptPeerDial(ids[1]) {
		t.Fatal("refused peer let through")
	}
	if g.Refused() != 2 {
		t.Fatalf("Refused() = %d, want 2", g.Refused())
	}
	for _, want := range []string{
		"peer=" + ids[0].String() + " direction=inbound reason=blocked",
		"peer=" + ids[1].String() + " direction=outbound reason=not_admitted",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestNewHostErrors(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A port another process holds, for one of two listen addresses: the
	// host must not start on the other alone.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", taken.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name string
		cfg  HostConfig
		want error
	}{
		{"no key", HostConfig{Gater: NewGater(nil)}, ErrNoKey},
		{"port taken", HostConfig{Key: key, Gater: NewGater(nil), ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1", takenAddr}}, ErrListen},
		{"no gater", HostConfig{Key: key}, ErrNoGater},
		{"bad addr", HostConfig{Key: key, Gater: NewGater(nil), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0", "127.0.0.1:4001"}}, ErrBadListenAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHost(tc.cfg)
			if h != nil {
				h.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrBadListenAddr && !strings.Contains(err.Error(), "127.0.0.1:4001") {
				t.Fatalf("error does not name the address: %v", err)
			}
			if tc.want == ErrListen && (!strings.Contains(err.Error(), takenAddr) || !strings.Contains(err.Error(), "address already in use")) {
				t.Fatalf("error does not name the address and the cause: %v", err)
			}
		})
	}
}
