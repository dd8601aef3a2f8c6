package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
)

// startFed starts a federation in this process: the first name is the
// bootstrap seed, the others members admitted by it and joined through it.
func startFed(t *testing.T, names ...string) map[string]*Node {
	t.Helper()
	return startFedWith(t, nil, names...)
}

// startFedWith is startFed with edit, if not nil, changing each node's
// config before its init.
func startFedWith(t *testing.T, edit func(name string, cfg *Config), names ...string) map[string]*Node {
	t.Helper()
	nodes := map[string]*Node{}
	var seedAddr string
	for i, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		cfg := DefaultConfig(name)
		cfg.API.Listen = "127.0.0.1:0"
		cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Gossip.Listen = "127.0.0.1:0"
		opts := Options{FastTimers: true}
		if edit != nil {
			edit(name, &cfg)
		}
		if i == 0 {
			cfg.Role = "seed"
			opts.Bootstrap = true
		} else {
			opts.Join = []string{seedAddr}
		}
		res, err := Init(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := nodes[names[0]].Meta().Propose(context.Background(), meta.Command{Op: meta.OpPutMember,
				Member: &meta.Member{Name: name, Role: "member", PeerID: res.PeerID}}); err != nil {
				t.Fatal(err)
			}
		}
		cfg, err = LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes[name] = n
		if i == 0 {
			seedAddr = n.fed.host.Addrs()[0].String() + "/p2p/" + n.PeerID()
			waitFor(t, "the seed admits itself", func() bool { return n.Meta().View().Member(name) != nil })
		}
	}
	for name, n := range nodes {
		waitFor(t, name+" sees every member", func() bool { return len(n.Meta().View().Members()) == len(names) })
	}
	return nodes
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func propose(t *testing.T, n *Node, c meta.Command) *meta.View {
	t.Helper()
	v, err := n.Meta().Propose(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReplication: the owner's writes reach its readers, directly and
// through a relay, and never a node outside the read list.
func TestReplication(t *testing.T) {
	nodes := startFed(t, "s1", "hcm", "moh", "mps", "mof")
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if ty.Name == "citizen" {
			propose(t, nodes["s1"], meta.Command{Op: meta.OpPutType, Type: ty})
		}
	}
	v := propose(t, nodes["s1"], meta.Command{Op: meta.OpPutDataset, Dataset: mustDataset(t,
		`{"name":"population.identity","entity_type":"citizen","fields":["full_name","birth_date","sex","birth_province","phones"],"owner":"hcm","readers":["moh","mps"]}`)})
	for name, n := range nodes {
		waitFor(t, name+" applies the dataset", func() bool { return n.Meta().View().Index >= v.Index })
	}
	// Cut the direct link between the owner and mps: mps must get the ops
	// through moh, which may read them, and never through s1 or mof.
	hcm, mps := nodes["hcm"], nodes["mps"]
	hcmID, mpsID := peer.ID(hcm.fed.host.ID()), peer.ID(mps.fed.host.ID())
	hcm.fed.gater.Block(mpsID)
	mps.fed.gater.Block(hcmID)
	hcm.fed.gater.Enforce(hcm.fed.host)
	mps.fed.gater.Enforce(mps.fed.host)

	ctx := context.Background()
	const n = 300
	for i := 0; i < n; i++ {
		fields := map[string]json.RawMessage{
			"full_name":      json.RawMessage(fmt.Sprintf(`"Người %d"`, i)),
			"birth_date":     json.RawMessage(`"1990-01-02"`),
			"sex":            json.RawMessage(`"female"`),
			"birth_province": json.RawMessage(`"79"`),
		}
		if _, err := hcm.Engine().Write(ctx, data.Write{Dataset: "population.identity", Key: fmt.Sprintf("0790900%05d", i), Mode: data.Put, Fields: fields}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"moh", "mps"} {
		waitFor(t, name+" has every op", func() bool {
			heads, _ := nodes[name].store.Heads("population.identity")
			return len(heads) == 1 && heads[streamOf("population.identity", "hcm")].Seq == n
		})
		ent, err := nodes[name].Engine().Get("citizen", "079090000299", false)
		if err != nil || string(ent.Fields["full_name"]) != `"Người 299"` {
			t.Fatalf("%s: %v %v", name, ent, err)
		}
	}
	res, err := nodes["moh"].Verify(ctx, "mps", "population.identity")
	if err != nil || len(res) != 1 || len(res[0].Differ) != 0 || res[0].Entities != n {
		t.Fatalf("verify moh against mps: %+v %v", res, err)
	}
	if _, err := nodes["moh"].Verify(ctx, "mof", "population.identity"); err == nil {
		t.Fatal("verify against a non-reader compared something")
	}
	for _, name := range []string{"s1", "mof"} {
		heads, _ := nodes[name].store.Heads("")
		ents, _ := nodes[name].store.Entities("citizen", "", "", 10)
		if len(heads) != 0 || len(ents) != 0 {
			t.Fatalf("%s may not read the dataset but stores %d streams, %d entities", name, len(heads), len(ents))
		}
		if _, err := nodes[name].Engine().Get("citizen", "079090000001", false); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("%s serves a record it may not read: %v", name, err)
		}
	}
}
