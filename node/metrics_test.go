package node

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
					for i := 0; i+1 < len(labels); i += 2 {
						found := false
						for _, lp := range m.GetLabel() {
							found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
						}
						if !found {
							continue next
						}
					}
					v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
					return want < 0 && v > 0 || v == want
				}
			}
			return false
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
		{hcm, "lienthong_meta_index", float64(hcm.Meta().View().Index), nil},
	} {
		waitFor(t, c.n.cfg.Name+" reports "+c.name+strings.Join(c.labels, ",")+" at the value wanted", expect(c.n, c.name, c.want, c.labels...))
	}
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
