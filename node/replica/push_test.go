package replica

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/push"
)

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestPushIsTheHotPath runs owner hcm and reader moh over libp2p on
// loopback with an anti-entropy interval of an hour: no tick comes, so
// every op the reader gets is pushed on its subscription, not pulled.
func TestPushIsTheHotPath(t *testing.T) {
	clk := &clock{now: time.Now()}
	net := &memNet{nodes: map[peer.ID]*Replicator{}, calls: map[string]int{}}
	var nodes []*testNode
	var gaters []*transport.Gater
	for _, name := range []string{"hcm", "moh"} {
		h, key, g := newHost(t)
		nodes = append(nodes, &testNode{name: name, id: h.ID(), key: key, fs: vfs.NewMem(), host: h, interval: time.Hour, push: true})
		gaters = append(gaters, g)
	}
	for i, n := range nodes {
		gaters[i].SetAdmitted([]peer.ID{nodes[0].id, nodes[1].id})
		o := nodes[1-i]
		n.host.Peerstore().AddAddrs(o.id, o.host.Addrs(), peerstore.PermanentAddrTTL)
		n.start(t, net, clk, nodes, 0)
	}
	hcm, moh := nodes[0], nodes[1]
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if err := moh.host.Connect(ctx, peer.AddrInfo{ID: hcm.id}); err != nil {
		t.Fatal(err)
	}
	// hcm serves push before moh subscribes: a subscription refused
	// waits for the next tick, an hour away here.
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.r.Run(ctx, n.host) }()
		if n == hcm {
			waitFor(t, "hcm to serve push", func() bool { return slices.Contains(hcm.host.Mux().Protocols(), push.ID) })
		}
	}
	waitFor(t, "moh's subscription", func() bool { return len(hcm.r.subscribers()) == 1 })
	for round := range 5 {
		hcm.write(t, round*40, (round+1)*40, "A")
	}
	waitFor(t, "moh to hold hcm's 200 ops", func() bool { return moh.headOf(t, "population.identity", "hcm") == 200 })
	if got := testutil.ToFloat64(moh.r.stats.bytes.WithLabelValues("push", "received")); got == 0 {
		t.Fatal("no pushed bytes received")
	}
	if got := testutil.ToFloat64(moh.r.stats.bytes.WithLabelValues("sync", "received")); got != 0 {
		t.Fatalf("%v bytes pulled: the ops came by pull, not push", got)
	}
	if got := testutil.ToFloat64(hcm.r.stats.bytes.WithLabelValues("sync", "received")); got != 0 {
		t.Fatalf("hcm received %v bytes of pull requests", got)
	}
	if moh.digest(t) != hcm.digest(t) {
		t.Fatal("digests differ")
	}
	// The source knows moh's lag from moh's credit, with no pull: a reader
	// fed by push is not reported behind.
	waitFor(t, "hcm to see moh's lag at 0", func() bool {
		for _, l := range hcm.r.Lag() {
			if l.Reader == "moh" && l.Dataset == "population.identity" {
				return l.Ops == 0
			}
		}
		return false
	})
}

// TestPushedBatchIsChecked: a batch pushed by a reader that is no origin,
// with a head it signed itself, is rejected as a pulled one would be, and
// the subscription is reset and counted.
func TestPushedBatchIsChecked(t *testing.T) {
	v := newVictim(t)
	v.r.cfg.Push = true
	_, encs := ops("hcm", 3, 1)
	bad := signed(t, v.evilKey, "hcm", encs, 3) // signed by evil, not hcm
	v.evil.SetStreamHandler(push.ID, func(s network.Stream) {
		transport.WriteFrame(s, answer(bad))
		time.Sleep(time.Second) // leave the stream open: the reader resets it
		s.Reset()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := v.r.cfg.Network.(P2P).Host.Connect(ctx, peer.AddrInfo{ID: v.evil.ID()}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); v.r.Run(ctx, v.r.cfg.Network.(P2P).Host) }()
	waitFor(t, "the reset", func() bool { return testutil.ToFloat64(v.r.stats.pushResets.WithLabelValues("reader")) >= 1 })
	if got := testutil.ToFloat64(v.r.stats.rejected.WithLabelValues("signature")); got < 1 {
		t.Fatalf("rejected{signature} = %v, want ≥ 1", got)
	}
	if h := v.st.DurableHeads("population.identity"); len(h) != 0 {
		t.Fatalf("heads %v after a forged batch", h)
	}
	cancel()
	<-done
}
