package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// memNet connects replicators in one process: a request is the target's
// Handle, called at once. fail, if set, may fail a request before it is sent.
type memNet struct {
	mu    sync.Mutex
	nodes map[peer.ID]*Replicator
	fail  func(proto string, req []byte) bool
	calls map[string]int
}

type memLink struct {
	net  *memNet
	self peer.ID
}

func (l memLink) Request(ctx context.Context, p peer.ID, proto string, req []byte, maxResp int) ([]byte, error) {
	l.net.mu.Lock()
	to, fail := l.net.nodes[p], l.net.fail
	l.net.calls[proto]++
	l.net.mu.Unlock()
	if to == nil || fail != nil && fail(proto, req) {
		return nil, errors.New("memnet: link down")
	}
	resp, err := to.Handle(ctx, l.self, proto, req, nil)
	if len(resp) > maxResp {
		// What transport.Request would refuse.
		return nil, fmt.Errorf("memnet: %s response of %d bytes, over the caller's cap of %d", proto, len(resp), maxResp)
	}
	return resp, err
}

func (l memLink) Connected(p peer.ID) bool { return l.net.nodes[p] != nil }

// clock is a settable time shared by the test's nodes.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Millis() int64           { return c.Now().UnixMilli() }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type testNode struct {
	name string
	id   peer.ID
	key  crypto.PrivKey
	fs   vfs.FS
	st   *storage.Store
	eng  *data.Engine
	r    *Replicator
	reg  *prometheus.Registry

	host     host.Host     // nil: the memNet
	interval time.Duration // Config.Interval
	push     bool          // Config.Push
}

// newPair starts owner "hcm" and reader "moh" of population.identity on
// one memNet, with retention and small snapshot chunks.
func newPair(t testing.TB, clk *clock, retention time.Duration) (*memNet, *testNode, *testNode) {
	t.Helper()
	net := &memNet{nodes: map[peer.ID]*Replicator{}, calls: map[string]int{}}
	var nodes []*testNode
	for _, name := range []string{"hcm", "moh"} {
		key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
		id, _ := peer.IDFromPrivateKey(key)
		nodes = append(nodes, &testNode{name: name, id: id, key: key, fs: vfs.NewMem()})
	}
	for _, n := range nodes {
		n.start(t, net, clk, nodes, retention)
	}
	return net, nodes[0], nodes[1]
}

// start opens (or reopens) n's store with the pair's metadata.
func (n *testNode) start(t testing.TB, net *memNet, clk *clock, all []*testNode, retention time.Duration) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(storage.Options{Dir: "db", FS: n.fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := meta.OpenLocal(ctx, st, meta.Member{Name: n.name, Role: "member", PeerID: n.id.String()})
	if err != nil {
		t.Fatal(err)
	}
	if m.View().Dataset("population.identity") == nil {
		for _, o := range all {
			if o != n {
				m.PutMember(ctx, meta.Member{Name: o.name, Role: "member", PeerID: o.id.String()})
			}
		}
		// Both nodes apply the same metadata in the same order, so
		// their indexes agree, as followers of one log would.
		types, _ := examples.EntityTypes()
		for _, ty := range types {
			if ty.Name == "citizen" {
				m.PutType(ctx, ty)
			}
		}
		ds, _ := dict.ParseDataset([]byte(`{"name":"population.identity","entity_type":"citizen","fields":["full_name","birth_date"],"owner":"hcm","readers":["moh"]}`))
		if _, err := m.PutDataset(ctx, ds); err != nil {
			t.Fatal(err)
		}
		// Documents with values up to the write limits (TestLargeOpsReplicate).
		doc, err := dict.ParseEntityType([]byte(`{"name":"doc","version":1,"key":{"pattern":"^d[0-9]+$"},"fields":{"body":{"type":"string"},"more":{"type":"string"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		m.PutType(ctx, doc)
		ds, _ = dict.ParseDataset([]byte(`{"name":"docs","entity_type":"doc","fields":["body","more"],"owner":"hcm","readers":["moh"]}`))
		if _, err := m.PutDataset(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := data.New(data.Config{Self: n.name, Store: st, Meta: m, NowMillis: clk.Millis})
	if err != nil {
		t.Fatal(err)
	}
	n.st, n.eng, n.reg = st, eng, prometheus.NewRegistry()
	var network Network = memLink{net, n.id}
	if n.host != nil {
		network = P2P{Host: n.host}
	}
	n.r = New(Config{Self: n.name, Key: n.key, Network: network, Store: st, Meta: m, Engine: eng, Now: clk.Now,
		Retention: retention, SnapshotChunkBytes: 4 << 10, Registerer: n.reg, Interval: n.interval, Push: n.push})
	net.mu.Lock()
	net.nodes[n.id] = n.r
	net.mu.Unlock()
}

func (n *testNode) write(t testing.TB, from, to int, name string) {
	t.Helper()
	for i := from; i < to; i++ {
		_, err := n.eng.Write(context.Background(), data.Write{Dataset: "population.identity", Key: fmt.Sprintf("0790900%05d", i),
			Mode: data.Put, Fields: map[string]json.RawMessage{"full_name": json.RawMessage(fmt.Sprintf("%q", name)), "birth_date": json.RawMessage(`"1990-05-01"`)}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (n *testNode) digest(t *testing.T) string {
	t.Helper()
	d, err := DatasetDigest(n.st, "citizen", "", "population.identity")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%s", d.Entities, d.Total)
}

func (n *testNode) head(t *testing.T, origin string) uint64 {
	t.Helper()
	return n.headOf(t, "population.identity", origin)
}

func TestTruncateKeepsWhatReadersLack(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(t, clk, time.Hour)
	hcm.write(t, 0, 100, "A")
	if n, err := moh.r.Pull(ctx, hcm.id); err != nil || n != 100 {
		t.Fatalf("pull: %d, %v", n, err)
	}
	hcm.write(t, 100, 200, "B")
	// Within the retention nothing goes.
	clk.Advance(30 * time.Minute)
	if n, _ := hcm.r.Truncate(ctx); n != 0 {
		t.Fatalf("truncated %d ops within the retention", n)
	}
	// moh pulls 40 minutes after the writes: its request says it has 100,
	// so the ops beyond stay even once they are old...
	clk.Advance(10 * time.Minute)
	moh.r.PullOnce(ctx, hcm.id)
	clk.Advance(40 * time.Minute)
	if n, err := hcm.r.Truncate(ctx); err != nil || n != 100 {
		t.Fatalf("truncate after the retention: %d, %v; want the 100 ops moh said it had", n, err)
	}
	// ...until it says it has them.
	moh.r.PullOnce(ctx, hcm.id)
	if n, err := hcm.r.Truncate(ctx); err != nil || n != 100 {
		t.Fatalf("second truncate: %d, %v; want 100", n, err)
	}
	if f, _ := hcm.st.Floor("population.identity", "hcm"); f != 200 {
		t.Fatalf("floor %d, want 200", f)
	}
	if got := testutil.ToFloat64(hcm.r.stats.truncated.WithLabelValues("population.identity")); got != 200 {
		t.Fatalf("truncated metric %v", got)
	}
	// The stream goes on, and moh still gets what follows.
	hcm.write(t, 200, 210, "C")
	if n, err := moh.r.Pull(ctx, hcm.id); err != nil || n != 10 {
		t.Fatalf("pull after truncation: %d, %v", n, err)
	}
	if hcm.digest(t) != moh.digest(t) {
		t.Fatal("replicas differ")
	}
}

// TestSnapshotCatchUp: a reader away past the truncation point catches up
// through the owner's snapshot; a transfer broken off midway, and a reader
// restarted midway, resume where they stopped; then ops flow again.
func TestSnapshotCatchUp(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	net, hcm, moh := newPair(t, clk, time.Hour)
	hcm.write(t, 0, 300, "A")
	if _, err := moh.r.Pull(ctx, hcm.id); err != nil {
		t.Fatal(err)
	}
	// moh goes away; hcm writes on, overwrites some of what moh has, and
	// after the retention truncates everything moh lacks.
	hcm.write(t, 300, 1000, "B")
	hcm.write(t, 0, 50, "C")
	clk.Advance(2 * time.Hour)
	hcm.write(t, 1000, 1100, "D")
	if n, err := hcm.r.Truncate(ctx); err != nil || n != 1050 {
		t.Fatalf("truncate: %d, %v; want the 1050 ops older than the retention", n, err)
	}

	// The transfer breaks at the third chunk...
	chunks := 0
	net.fail = func(proto string, _ []byte) bool {
		if proto == snapshot.ID {
			chunks++
			return chunks == 3
		}
		return false
	}
	if _, err := moh.r.Pull(ctx, hcm.id); err == nil {
		t.Fatal("pull with a broken snapshot transfer: no error")
	}
	b, err := moh.st.GetLocal(progressKey("population.identity"))
	if err != nil {
		t.Fatalf("no progress recorded: %v", err)
	}
	var pr progress
	json.Unmarshal(b, &pr)
	if pr.Chunks != 2 || pr.After == "" || pr.Source != "hcm" || len(pr.Heads) != 1 || pr.Heads[0].Seq != 1150 {
		t.Fatalf("progress after 2 chunks: %+v", pr)
	}
	if moh.head(t, "hcm") != 300 {
		t.Fatalf("head moved to %d before the snapshot was complete", moh.head(t, "hcm"))
	}

	// ...and again at the fifth, after moh restarts in between.
	moh.st.Close()
	moh.start(t, net, clk, []*testNode{hcm, moh}, time.Hour)
	var resumedAfter []string
	net.fail = func(proto string, req []byte) bool {
		if proto == snapshot.ID {
			var q snapshot.Request
			json.Unmarshal(req, &q)
			resumedAfter = append(resumedAfter, q.After)
			chunks++
			return chunks == 5
		}
		return false
	}
	if _, err := moh.r.Pull(ctx, hcm.id); err == nil {
		t.Fatal("second broken transfer: no error")
	}
	if len(resumedAfter) == 0 || resumedAfter[0] != pr.After {
		t.Fatalf("after restart the transfer asked from %q, want to resume after %q", resumedAfter, pr.After)
	}
	net.fail = nil
	if _, err := moh.r.Pull(ctx, hcm.id); err != nil {
		t.Fatalf("resumed pull: %v", err)
	}
	if got := testutil.ToFloat64(moh.r.stats.snapshots.WithLabelValues("resumed")); got != 2 {
		t.Fatalf("resumed transfers counted: %v, want 2 (one per Pull since the restart)", got)
	}
	if _, err := moh.st.GetLocal(progressKey("population.identity")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("progress left after the snapshot: %v", err)
	}
	if hcm.digest(t) != moh.digest(t) {
		t.Fatalf("replicas differ after the snapshot: %s vs %s", hcm.digest(t), moh.digest(t))
	}
	if h, f := moh.head(t, "hcm"), must(moh.st.Floor("population.identity", "hcm")); h != 1150 || f != 1150 {
		t.Fatalf("moh head %d floor %d, want 1150 and 1150", h, f)
	}
	// The change feeds still read: snapshot states at moh, truncated ops
	// at hcm.
	chs, err := moh.eng.Changes(0, 1<<20)
	if err != nil {
		t.Fatalf("moh's change feed after the snapshot: %v", err)
	}
	snaps := 0
	for _, c := range chs {
		if c.Op == "snapshot" {
			snaps++
			if c.Origin != "hcm" || c.Seq != 0 || len(c.Fields) == 0 {
				t.Fatalf("a snapshot change: %+v", c)
			}
		}
	}
	if snaps < 700 {
		t.Fatalf("moh's feed shows %d entities from the snapshot, want the 800 it lacked or changed", snaps)
	}
	if hch, err := hcm.eng.Changes(0, 1); err != nil || len(hch) != 1 || hch[0].Op != "truncated" || hch[0].Fields != nil {
		t.Fatalf("hcm's first change after truncation: %+v, %v", hch, err)
	}
	// Ops flow again from the installed head.
	hcm.write(t, 1100, 1120, "E")
	if n, err := moh.r.Pull(ctx, hcm.id); err != nil || n != 20 {
		t.Fatalf("pull after the snapshot: %d, %v", n, err)
	}
	if hcm.digest(t) != moh.digest(t) {
		t.Fatal("replicas differ after ops resumed")
	}
}

// TestSnapshotOnlyFromOwner: a node takes a dataset snapshot only from the
// dataset's owner, and an owner never takes one of its own dataset.
func TestSnapshotOnlyFromOwner(t *testing.T) {
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(t, clk, time.Hour)
	if got := moh.r.snapshotsFrom(hcm.id, nil); len(got) != 0 {
		t.Fatalf("snapshots with nothing truncated: %v", got)
	}
	if got := hcm.r.snapshotsFrom(moh.id, []pull.Truncated{{Dataset: "population.identity", Origin: "hcm", Floor: 5}}); len(got) != 0 {
		t.Fatalf("the owner would take a snapshot of its own dataset from a reader: %v", got)
	}
	if got := moh.r.snapshotsFrom(hcm.id, []pull.Truncated{{Dataset: "population.identity", Origin: "hcm", Floor: 5}}); len(got) != 1 {
		t.Fatalf("a reader would not take the owner's snapshot: %v", got)
	}
}

func must(v uint64, err error) uint64 {
	if err != nil {
		panic(err)
	}
	return v
}

// TestPurgeOnRevoke: a reader whose right is revoked deletes what it held of
// the dataset, and takes no more of it.
func TestPurgeOnRevoke(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(t, clk, time.Hour)
	hcm.write(t, 0, 50, "A")
	if n, err := moh.r.Pull(ctx, hcm.id); err != nil || n != 50 {
		t.Fatalf("pull: %d, %v", n, err)
	}
	if got, _ := moh.r.Purge(ctx); len(got) != 0 {
		t.Fatalf("purged %v while moh may read it", got)
	}
	// Both nodes apply the revoke, as followers of one log would.
	for _, n := range []*testNode{hcm, moh} {
		if _, err := n.r.cfg.Meta.Propose(ctx, meta.Command{Op: meta.OpRevoke, Name: "population.identity", Reader: "moh"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := moh.r.Purge(ctx)
	if err != nil || len(got) != 1 || got[0] != "population.identity" {
		t.Fatalf("purge after the revoke: %v, %v", got, err)
	}
	if d := moh.digest(t); d[:2] != "0:" {
		t.Fatalf("moh still holds entities after the purge: %s", d)
	}
	if h, _ := moh.st.Heads(""); len(h) != 0 {
		t.Fatalf("moh still holds streams: %v", h)
	}
	hcm.write(t, 50, 60, "B")
	if n, _ := moh.r.Pull(ctx, hcm.id); n != 0 {
		t.Fatalf("moh pulled %d ops of a dataset it may not read", n)
	}
}

// TestLargeOpsReplicate: ops at the write limits (values of
// crdt.MaxValueBytes, incompressible) reach the reader within the response
// caps: a batch of the owner's stream ends at its byte budget instead of at
// MaxBatchOps, which at these sizes would be gigabytes.
func TestLargeOpsReplicate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(t, clk, time.Hour)
	value := func(i int) json.RawMessage {
		b := make([]byte, crdt.MaxValueBytes)
		rnd := mrand.New(mrand.NewPCG(uint64(i), 1))
		for j := range b {
			b[j] = byte(rnd.Uint32())
		}
		return json.RawMessage(`"` + base64.StdEncoding.EncodeToString(b)[:crdt.MaxValueBytes-2] + `"`)
	}
	const n = 24 // 48 MiB of values, a few responses' worth
	for i := range n {
		if _, err := hcm.eng.Write(ctx, data.Write{Dataset: "docs", Key: fmt.Sprintf("d%d", i), Mode: data.Put,
			Fields: map[string]json.RawMessage{"body": value(i), "more": value(i + n)}}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for round := 0; moh.headOf(t, "docs", "hcm") < n; round++ {
		if round > n {
			t.Fatalf("after %d pulls the reader holds %d of %d ops", round, moh.headOf(t, "docs", "hcm"), n)
		}
		if _, err := moh.r.Pull(ctx, hcm.id); err != nil {
			t.Fatalf("pull: %v", err)
		}
	}
	for _, i := range []int{0, n - 1} {
		st, err := moh.st.Entity("doc", fmt.Sprintf("d%d", i))
		if err != nil || len(st) != 1 || !bytes.Equal(st[0].State.Field("body").Value, value(i)) {
			t.Fatalf("d%d at the reader: %v, want the owner's value", i, err)
		}
	}
}

func (n *testNode) headOf(t *testing.T, dataset, origin string) uint64 {
	t.Helper()
	h, err := n.st.Heads(dataset)
	if err != nil {
		t.Fatal(err)
	}
	return h[storage.Stream{Dataset: dataset, Origin: origin}].Seq
}

// TestOwnerRecoversOwnOps: an owner that lost its store (a new disk, or a
// backup older than what its readers hold) gets its own ops back from a
// reader before it writes, so its next write continues its stream instead
// of reusing a sequence number the reader holds (which the reader would
// see as a fork).
func TestOwnerRecoversOwnOps(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	net, hcm, moh := newPair(t, clk, time.Hour)
	hcm.write(t, 0, 100, "A")
	if _, err := moh.r.Pull(ctx, hcm.id); err != nil {
		t.Fatal(err)
	}
	// hcm loses its disk and starts again, same identity, empty store.
	hcm.st.Close()
	hcm.fs = vfs.NewMem()
	hcm.start(t, net, clk, []*testNode{hcm, moh}, time.Hour)
	if n, reached, err := hcm.r.Recover(ctx); err != nil || n != 100 || reached != 1 {
		t.Fatalf("recover: %d ops from %d members, %v; want the 100 of its own stream the reader holds", n, reached, err)
	}
	hcm.write(t, 100, 101, "B")
	if got := hcm.head(t, "hcm"); got != 101 {
		t.Fatalf("the owner's next write is seq %d, want 101", got)
	}
	if _, err := moh.r.Pull(ctx, hcm.id); err != nil {
		t.Fatal(err)
	}
	if got := moh.head(t, "hcm"); got != 101 || len(moh.r.Alarms()) > 0 {
		t.Fatalf("reader at %d with alarms %v, want 101 and none", got, moh.r.Alarms())
	}
}
