package control

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
)

// cluster is n seeds in one process: real libp2p hosts on loopback, real
// Raft with its log on Pebble (in memory), each with its own store.
type cluster struct {
	t      testing.TB
	hosts  []host.Host
	gaters []*transport.Gater
	stores []*storage.Store
	fs     []vfs.FS
	nodes  []*Control
	self   []meta.Member
	// regs and logs are each node's metrics and its log at warn level and
	// above, renewed at every start.
	regs []*prometheus.Registry
	logs []*lockedBuffer
}

func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	c := &cluster{t: t}
	var ids []peer.ID
	for i := 0; i < n; i++ {
		h := c.newHost(t)
		c.self = append(c.self, meta.Member{Name: fmt.Sprintf("s%d", i+1), Role: "seed", PeerID: h.ID().String()})
		ids = append(ids, h.ID())
	}
	for i, h := range c.hosts {
		c.gaters[i].SetAdmitted(ids)
		for j, o := range c.hosts {
			if i != j {
				h.Peerstore().AddAddrs(o.ID(), o.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	for i := range c.hosts {
		c.start(i, i == 0)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
			c.hosts[i].Close()
		}
	})
	// The first seed admits the others; they join as non-voters and, with
	// Progress always caught up, are promoted to voters.
	ctx := context.Background()
	c.waitLeader()
	for i := range c.self {
		if _, err := c.nodes[0].Propose(ctx, meta.Command{Op: meta.OpPutMember, Member: &c.self[i]}); err != nil {
			t.Fatal(err)
		}
	}
	c.waitVoters(n)
	return c
}

func (c *cluster) start(i int, bootstrap bool) {
	c.t.Helper()
	st, err := storage.Open(storage.Options{Dir: "db", FS: c.fs[i]})
	if err != nil {
		c.t.Fatal(err)
	}
	rs := storage.NewRaftStore(st)
	reg, log := prometheus.NewRegistry(), &lockedBuffer{}
	ctl, err := New(Config{Self: c.self[i], Host: c.hosts[i], Logs: rs, Stable: rs, Snapshots: raft.NewInmemSnapshotStore(),
		Store: st, Bootstrap: bootstrap, HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond, ProposeTimeout: 3 * time.Second,
		Progress: func(string) (uint64, bool) { return ^uint64(0), true }, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		c.t.Fatal(err)
	}
	if i < len(c.nodes) {
		c.nodes[i], c.stores[i], c.regs[i], c.logs[i] = ctl, st, reg, log
	} else {
		c.nodes, c.stores = append(c.nodes, ctl), append(c.stores, st)
		c.regs, c.logs = append(c.regs, reg), append(c.logs, log)
	}
}

func (c *cluster) stop(i int) {
	if c.nodes[i] == nil {
		return
	}
	c.nodes[i].Close()
	c.stores[i].Close()
	c.nodes[i] = nil
}

func (c *cluster) leader() int {
	for i, n := range c.nodes {
		if n != nil && n.IsLeader() {
			return i
		}
	}
	return -1
}

func (c *cluster) waitLeader() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if i := c.leader(); i >= 0 {
			return i
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return -1
}

func (c *cluster) waitVoters(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l := c.leader(); l >= 0 && len(c.nodes[l].Status().Voters) == n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("voters never reached %d: %+v", n, c.nodes[c.waitLeader()].Status())
}

func citizenType(t testing.TB) meta.Command {
	types, err := examples.EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range types {
		if ty.Name == "citizen" {
			return meta.Command{Op: meta.OpPutType, Type: ty}
		}
	}
	t.Fatal("no citizen sample")
	return meta.Command{}
}

func TestProposeThroughFollower(t *testing.T) {
	c := newCluster(t, 3)
	l := c.waitLeader()
	f := (l + 1) % 3
	v, err := c.nodes[f].Propose(context.Background(), citizenType(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.Type("citizen") == nil {
		t.Fatal("the returned view lacks the type")
	}
	// Every node applies it.
	for i, n := range c.nodes {
		if err := n.WaitApplied(context.Background(), v.Index); err != nil || n.View().Type("citizen") == nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	// A failed check keeps its class across forwarding and changes nothing.
	bad := *citizenType(t).Type
	bad.Fields = map[string]dict.Field{"full_name": {Type: dict.Integer}}
	_, err = c.nodes[f].Propose(context.Background(), meta.Command{Op: meta.OpPutType, Type: &bad})
	if !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("incompatible schema through a follower: %v, want ErrConflict", err)
	}
	_, err = c.nodes[f].Propose(context.Background(), meta.Command{Op: meta.OpTransfer, Name: "nope", To: "s1"})
	if !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("transfer of an unknown dataset: %v, want ErrNotFound", err)
	}
	if got := c.nodes[l].View().Index; got != v.Index {
		t.Fatalf("failed commands moved the metadata index from %d to %d", v.Index, got)
	}
}

func TestLeaderLossAndNoQuorum(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	l := c.waitLeader()
	c.stop(l)
	start := time.Now()
	var survivor int
	for i := range c.nodes {
		if c.nodes[i] != nil {
			survivor = i
		}
	}
	for {
		if _, err := c.nodes[survivor].Propose(ctx, citizenType(t)); err == nil {
			break
		} else if time.Since(start) > 20*time.Second {
			t.Fatalf("no write after the leader stopped: %v", err)
		}
	}
	t.Logf("leader stopped to first successful write: %v", time.Since(start))
	// Stop a second seed: no quorum, a clear error, reads still served.
	for i := range c.nodes {
		if c.nodes[i] != nil && i != survivor {
			c.stop(i)
		}
	}
	index := c.nodes[survivor].View().Index
	_, err := c.nodes[survivor].Propose(ctx, meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{make([]byte, 32)}})
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("write without quorum: %v, want ErrNoQuorum", err)
	}
	if c.nodes[survivor].View().Index != index || c.nodes[survivor].View().Type("citizen") == nil {
		t.Fatal("reads lost the last applied metadata")
	}
	// Restart both: writes work again and all converge.
	for i := range c.nodes {
		if c.nodes[i] == nil {
			c.start(i, false)
		}
	}
	var v *meta.View
	deadline := time.Now().Add(20 * time.Second)
	for v == nil {
		v, err = c.nodes[survivor].Propose(ctx, meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{make([]byte, 32)}})
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("no write after the seeds came back: %v", err)
		}
	}
	for i, n := range c.nodes {
		if err := n.WaitApplied(ctx, v.Index); err != nil {
			t.Fatalf("node %d did not catch up: %v", i, err)
		}
	}
}

// TestRestartServesSavedView checks that a node restarted while it cannot
// reach any other seed serves its last metadata at once.
func TestRestartServesSavedView(t *testing.T) {
	c := newCluster(t, 3)
	v, err := c.nodes[0].Propose(context.Background(), citizenType(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.nodes[i].WaitApplied(ctx, v.Index); err != nil {
			t.Fatalf("node %d never applied %d: %+v", i, v.Index, c.nodes[i].Status())
		}
		cancel()
	}
	for i := range c.nodes {
		c.stop(i)
	}
	c.start(1, false)
	if got := c.nodes[1].View(); got.Index != v.Index || got.Type("citizen") == nil {
		t.Fatalf("restarted alone: metadata index %d, want %d with the citizen type", got.Index, v.Index)
	}
}

func TestSyncReadsOwnWrites(t *testing.T) {
	c := newCluster(t, 3)
	l := c.waitLeader()
	f := (l + 1) % 3
	v, err := c.nodes[l].Propose(context.Background(), citizenType(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[f].Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.nodes[f].View().Index < v.Index {
		t.Fatalf("after Sync the follower is at %d, the write at %d", c.nodes[f].View().Index, v.Index)
	}
}

// BenchmarkPropose measures metadata write latency on loopback, proposed at
// the leader and at a follower (forwarded), with p50 and p99.
func BenchmarkPropose(b *testing.B) {
	c := newCluster(b, 3)
	l := c.waitLeader()
	for _, via := range []struct {
		name string
		node int
	}{{"leader", l}, {"follower", (l + 1) % 3}} {
		b.Run(via.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				k := make([]byte, 32)
				k[0], k[1] = byte(i), byte(i>>8)
				start := time.Now()
				if _, err := c.nodes[via.node].Propose(context.Background(), meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{k}}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// newHost starts a libp2p host on loopback with its own gater and memory
// file system for one more node of c.
func (c *cluster) newHost(t testing.TB) host.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := transport.NewGater(nil)
	h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: g})
	if err != nil {
		t.Fatal(err)
	}
	c.hosts, c.gaters = append(c.hosts, h), append(c.gaters, g)
	c.fs = append(c.fs, vfs.NewMem())
	return h
}
