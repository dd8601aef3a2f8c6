package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/transport"
)

// lockedBuffer is a buffer safe for concurrent writes: a node's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// refusedByOp reads lienthong_meta_proposals_refused_total from a node's
// registry, by op.
func refusedByOp(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "lienthong_meta_proposals_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "op" {
					out[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// addMember starts one more node, a member (a Raft non-voter), admitted
// by the first seed: a real libp2p host and Control like the seeds'.
func (c *cluster) addMember(t *testing.T, name string) int {
	t.Helper()
	h := c.newHost(t)
	c.self = append(c.self, meta.Member{Name: name, Role: "member", PeerID: h.ID().String()})
	var ids []peer.ID
	for _, o := range c.hosts {
		ids = append(ids, o.ID())
	}
	for i, o := range c.hosts {
		c.gaters[i].SetAdmitted(ids)
		for _, p := range c.hosts {
			if p != o {
				o.Peerstore().AddAddrs(p.ID(), p.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	i := len(c.hosts) - 1
	if _, err := c.nodes[0].Propose(context.Background(), meta.Command{Op: meta.OpPutMember, Member: &c.self[i]}); err != nil {
		t.Fatal(err)
	}
	c.start(i, false)
	return i
}

// viewJSON is what a refused command must leave unchanged on a node.
func viewJSON(t *testing.T, c *Control) string {
	t.Helper()
	b, err := c.View().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitAll waits until every node has applied index.
func (c *cluster) waitAll(t *testing.T, index uint64) {
	t.Helper()
	for i, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.WaitApplied(ctx, index); err != nil {
			t.Fatalf("node %d never applied %d: %v", i, index, err)
		}
		cancel()
	}
}

// TestMemberCannotChangeMetadata is the attack of issue 10, finding 1: an
// admitted member sends every privileged command straight to the leader on
// the propose protocol, once as itself and once claiming to be the first
// seed, and once through a follower seed. Every one is refused on every
// replica, counted and logged at warn, and the view does not change; the
// member's own legitimate proposals still apply, attributed to it.
func TestMemberCannotChangeMetadata(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	pi := c.addMember(t, "probe")
	probe, probeID := c.hosts[pi], c.hosts[pi].ID().String()
	seedID := c.self[0].PeerID
	var v *meta.View
	var err error
	for _, cmd := range []meta.Command{
		citizenType(t),
		{Op: meta.OpPutDataset, Dataset: &dict.Dataset{Name: "population.identity", EntityType: "citizen",
			Fields: []string{"full_name", "birth_date"}, Owner: "s1", Readers: []string{"s3"}}},
		{Op: meta.OpPutDataset, Dataset: &dict.Dataset{Name: "probe.ds", EntityType: "citizen", Fields: []string{"sex"}, Owner: "probe"}},
	} {
		if v, err = c.nodes[0].Propose(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	c.waitAll(t, v.Index)
	before := map[int]string{}
	for i, n := range c.nodes {
		before[i] = viewJSON(t, n)
	}
	asSeed, err := v.WithMember(meta.Member{Name: "probe", Role: "seed", PeerID: probeID})
	if err != nil {
		t.Fatal(err)
	}
	backup, err := asSeed.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	privileged := []meta.Command{
		{Op: meta.OpPutMember, Member: &meta.Member{Name: "evil2", Role: "seed", PeerID: c.self[1].PeerID}},
		{Op: meta.OpPutMember, Member: &meta.Member{Name: "probe", Role: "seed", PeerID: probeID}},
		{Op: meta.OpRemoveMember, Name: "s2"},
		{Op: meta.OpPutType, Type: &dict.EntityType{Name: "loot", Version: 1, Key: dict.KeySpec{Pattern: "^[a-z]+$"},
			Fields: map[string]dict.Field{"f": {Type: dict.String}}}},
		{Op: meta.OpPutDataset, Dataset: &dict.Dataset{Name: "probe.more", EntityType: "citizen", Fields: []string{"phones"}, Owner: "probe"}},
		{Op: meta.OpTransfer, Name: "population.identity", To: "probe"},
		{Op: meta.OpTransfer, Name: "probe.ds", To: "s2"}, // its own: transfers are the seeds'
		{Op: meta.OpGrant, Name: "population.identity", Reader: "probe"},
		{Op: meta.OpRevoke, Name: "population.identity", Reader: "s3"},
		{Op: meta.OpGossipKeys, Keys: [][]byte{make([]byte, 32)}},
		{Op: meta.OpMemberAddrs, Name: "s1", Addrs: []string{"/ip4/127.0.0.1/tcp/1"}},
		{Op: meta.OpRestore, View: backup},
	}
	send := func(to int, cmd meta.Command) proposeResult {
		t.Helper()
		data, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b, err := transport.Request(rctx, probe, c.hosts[to].ID(), ProposeProtocol, data, 1<<20)
		if err != nil {
			t.Fatalf("%s to node %d: %v", cmd.Op, to, err)
		}
		var res proposeResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	l := c.waitLeader()
	sent := map[string]float64{}
	for _, cmd := range privileged {
		for _, by := range []string{"", seedID} {
			cmd.By = by
			res := send(l, cmd)
			sent[cmd.Op]++
			if res.Code != "forbidden" || !strings.Contains(res.Message, "member probe") || !strings.Contains(res.Message, probeID) {
				t.Errorf("%s with By %q: %+v; want forbidden, naming member probe", cmd.Op, by, res)
			}
		}
	}
	// Forwarded by a follower seed, still claiming the first seed's identity.
	f := (l + 1) % 3
	res := send(f, meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "evil2", Role: "seed", PeerID: c.self[1].PeerID}, By: seedID})
	if res.Code != "forbidden" || !strings.Contains(res.Message, "member probe") {
		t.Errorf("put_member forwarded by follower %d with a forged By: %+v; want forbidden, naming member probe", f, res)
	}
	// Each refusal was turned away by the node that received it, before
	// the log: counted under its op and logged at warn with the proposer
	// there, and no replica's view changed (nor did its log grow: the
	// other nodes counted nothing).
	want := map[int]map[string]float64{l: sent, f: {meta.OpPutMember: 1}}
	for i, n := range c.nodes {
		if got := refusedByOp(t, c.regs[i]); !maps.Equal(got, want[i]) && !(len(got) == 0 && len(want[i]) == 0) {
			t.Errorf("node %d counted refusals %v; want %v", i, got, want[i])
		}
		if after := viewJSON(t, n); after != before[i] {
			t.Errorf("node %d: the refused commands changed the view\nfrom %s\nto   %s", i, before[i], after)
		}
		if len(want[i]) == 0 {
			continue
		}
		if log := c.logs[i].String(); !strings.Contains(log, "metadata proposal refused") || !strings.Contains(log, "by="+probeID) {
			t.Errorf("node %d logged no refusal by %s at warn:\n%s", i, probeID, log)
		}
	}
	if last := c.nodes[l].View().Index; last != v.Index {
		t.Errorf("the refused proposals moved the metadata index from %d to %d", v.Index, last)
	}

	// Its own addresses, still claiming the first seed's identity: applied,
	// and logged as proposed by probe.
	addrs := []string{"/ip4/127.0.0.1/tcp/4242"}
	res = send(l, meta.Command{Op: meta.OpMemberAddrs, Name: "probe", Addrs: addrs, By: seedID})
	if res.Code != "" {
		t.Fatalf("probe publishing its own addresses: %+v", res)
	}
	var entry raft.Log
	if err := c.cfg(l).Logs.GetLog(res.Index, &entry); err != nil {
		t.Fatal(err)
	}
	var logged meta.Command
	if err := json.Unmarshal(entry.Data, &logged); err != nil || logged.By != probeID {
		t.Fatalf("log entry %d is attributed to %q (%v); want probe's %s", res.Index, logged.By, err, probeID)
	}
	// The owner grants a reader of its own dataset.
	grant := send(l, meta.Command{Op: meta.OpGrant, Name: "probe.ds", Reader: "s2"})
	if grant.Code != "" {
		t.Fatalf("probe granting s2 its own dataset: %+v", grant)
	}
	c.waitAll(t, grant.Index)
	for i, n := range c.nodes {
		if m := n.View().Member("probe"); !slices.Equal(m.Addrs, addrs) {
			t.Errorf("node %d: probe's addresses %v; want %v", i, m.Addrs, addrs)
		}
		if d := n.View().Dataset("probe.ds"); !slices.Equal(d.Readers, []string{"s2"}) {
			t.Errorf("node %d: probe.ds readers %v; want [s2]", i, d.Readers)
		}
	}
	// And at the member's own node, its operator's proposal fails with the
	// same typed error, across forwarding.
	if _, err := c.nodes[pi].Propose(ctx, meta.Command{Op: meta.OpTransfer, Name: "population.identity", To: "probe"}); !errors.Is(err, meta.ErrForbidden) {
		t.Fatalf("transfer proposed at the member's node: %v; want ErrForbidden", err)
	}
}

func (c *cluster) cfg(i int) Config { return c.nodes[i].cfg }

// TestReplayedProposalRefusedAtApply: a proposal that reaches the log
// without passing a propose handler (replayed, or written by a forwarder
// that did not stamp it) is judged by every replica's state machine by the
// proposer it names. A member's privileged command is refused everywhere,
// as the entry's result, with the view unchanged; Raft itself succeeds.
func TestReplayedProposalRefusedAtApply(t *testing.T) {
	c := newCluster(t, 3)
	mi := c.addMember(t, "probe")
	l := c.waitLeader()
	c.waitAll(t, c.nodes[l].View().Index)
	before := map[int]string{}
	for i, n := range c.nodes {
		before[i] = viewJSON(t, n)
	}
	data, err := json.Marshal(meta.Command{Op: meta.OpPutMember, By: c.self[mi].PeerID,
		Member: &meta.Member{Name: "probe", Role: "seed", PeerID: c.self[mi].PeerID}})
	if err != nil {
		t.Fatal(err)
	}
	f := c.nodes[l].raft.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatalf("raft: %v (a refusal must be an applied entry, not a Raft failure)", err)
	}
	if err, _ := f.Response().(error); !errors.Is(err, meta.ErrForbidden) || !strings.Contains(err.Error(), "member probe") {
		t.Fatalf("apply result %v; want ErrForbidden naming member probe", f.Response())
	}
	c.waitAll(t, f.Index())
	for i, n := range c.nodes {
		if got := refusedByOp(t, c.regs[i]); got[meta.OpPutMember] != 1 {
			t.Errorf("node %d counted refusals %v; want one put_member", i, got)
		}
		if after := viewJSON(t, n); after != before[i] {
			t.Errorf("node %d: the refused entry changed the view\nfrom %s\nto   %s", i, before[i], after)
		}
		if n.fsm.applied.Load() < f.Index() {
			t.Errorf("node %d: the refused entry %d is not marked applied (%d)", i, f.Index(), n.fsm.applied.Load())
		}
	}
}
