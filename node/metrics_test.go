package node

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
)

// TestMetricsAtScrape: Raft, gossip, the store and the build are in
// /metrics, computed when scraped: a seed that leads and a member that
// follows say so, gossip counts both members alive, the metadata index is
// the one applied now, and promtool's lint passes on the exposition.
func TestMetricsAtScrape(t *testing.T) {
	nodes := startFed(t, "s1", "hcm")
	s1, hcm := nodes["s1"], nodes["hcm"]
	expect := func(n *Node, name string, want float64, labels ...string) func() bool {
		return func() bool {
			v, ok := metricValue(t, n, name, labels...)
			return ok && (want < 0 && v > 0 || v == want)
		}
	}
	for _, c := range []struct {
		n      *Node
		name   string
		want   float64 // -1: any positive value
		labels []string
	}{
		{s1, "lienthong_raft_state", 1, []string{"state", "Leader"}},
		{s1, "lienthong_raft_state", 0, []string{"state", "Follower"}},
		{hcm, "lienthong_raft_state", 1, []string{"state", "Follower"}},
		{hcm, "lienthong_raft_has_leader", 1, nil},
		{s1, "lienthong_raft_servers", 1, []string{"suffrage", "Voter"}},
		{s1, "lienthong_raft_servers", 1, []string{"suffrage", "Nonvoter"}},
		{s1, "lienthong_raft_last_contact_seconds", 0, nil},
		{hcm, "lienthong_raft_applied_index", -1, nil},
		{hcm, "lienthong_gossip_members", 2, []string{"state", "alive"}},
		{s1, "lienthong_gossip_members", 0, []string{"state", "dead"}},
		{hcm, "lienthong_build_info", 1, []string{"version", Version, "go_version", runtime.Version()}},
		{hcm, "lienthong_storage_disk_bytes", -1, nil},
		{hcm, "lienthong_storage_write_stalls_total", 0, nil},
	} {
		waitFor(t, c.n.cfg.Name+" reports "+c.name+strings.Join(c.labels, ",")+" at the value wanted", expect(c.n, c.name, c.want, c.labels...))
	}
	waitFor(t, "hcm reports the metadata index it has applied", func() bool {
		v, ok := metricValue(t, hcm, "lienthong_meta_index")
		return ok && v > 0 && v == float64(hcm.Meta().View().Index)
	})
	probs, err := testutil.GatherAndLint(hcm.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if strings.HasPrefix(p.Metric, "lienthong_") {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
}

// TestLagMetricGrowsWithReaderStopped: with a reader stopped, the owner's
// /metrics shows its lag growing with each write, and the time since its
// last pull, though nobody asks for the status (the lag was set only as a
// side effect of GET /v1/status).
func TestLagMetricGrowsWithReaderStopped(t *testing.T) {
	nodes := startFed(t, "s1", "hcm", "moh")
	s1, hcm, moh := nodes["s1"], nodes["hcm"], nodes["moh"]
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if ty.Name == "citizen" {
			propose(t, s1, meta.Command{Op: meta.OpPutType, Type: ty})
		}
	}
	v := propose(t, s1, meta.Command{Op: meta.OpPutDataset, Dataset: mustDataset(t,
		`{"name":"population.identity","entity_type":"citizen","fields":["full_name","birth_date","sex","birth_province"],"owner":"hcm","readers":["moh"]}`)})
	waitFor(t, "hcm applies the dataset", func() bool { return hcm.Meta().View().Index >= v.Index })
	write := func(from, to int) {
		for i := from; i < to; i++ {
			fields := map[string]json.RawMessage{"full_name": json.RawMessage(fmt.Sprintf(`"Người %d"`, i)),
				"birth_date": json.RawMessage(`"1990-01-02"`), "sex": json.RawMessage(`"male"`), "birth_province": json.RawMessage(`"79"`)}
			if _, err := hcm.Engine().Write(context.Background(), data.Write{Dataset: "population.identity",
				Key: fmt.Sprintf("0790900%05d", i), Mode: data.Put, Fields: fields}); err != nil {
				t.Fatal(err)
			}
		}
	}
	metric := func(name string, labels ...string) (float64, bool) { return metricValue(t, hcm, name, labels...) }
	write(0, 20)
	waitFor(t, "moh catches up, lag 0 at hcm", func() bool {
		ops, ok := metric("lienthong_replica_lag_ops", "peer", "moh", "dataset", "population.identity")
		return ok && ops == 0
	})
	if n, ok := metricValue(t, moh, "lienthong_replica_apply_duration_seconds"); !ok || n == 0 {
		t.Fatalf("moh applied hcm's ops but timed %v batches (registered: %v)", n, ok)
	}
	moh.Close()
	write(20, 70)
	if ops, _ := metric("lienthong_replica_lag_ops", "peer", "moh", "dataset", "population.identity"); ops != 50 {
		t.Fatalf("lag after 50 writes with moh stopped: %v ops, want 50", ops)
	}
	write(70, 100)
	if ops, _ := metric("lienthong_replica_lag_ops", "peer", "moh", "dataset", "population.identity"); ops != 80 {
		t.Fatalf("lag after 80 writes with moh stopped: %v ops, want 80", ops)
	}
	secs, _ := metric("lienthong_replica_lag_seconds", "peer", "moh", "dataset", "population.identity")
	time.Sleep(50 * time.Millisecond)
	later, _ := metric("lienthong_replica_lag_seconds", "peer", "moh", "dataset", "population.identity")
	pull, ok := metric("lienthong_replica_last_pull_seconds", "peer", "moh")
	if secs <= 0 || later <= secs || !ok || pull <= 0 {
		t.Fatalf("lag seconds %v then %v, last pull %v s ago (%v): want both growing", secs, later, pull, ok)
	}
}

// metricValue is the value of the first series of name in n's registry
// whose labels include the name-value pairs in labels (for a histogram, its
// count of observations).
func metricValue(t *testing.T, n *Node, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := n.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}
