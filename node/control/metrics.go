package control

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// raftCollector reports the Raft group as this node sees it, computed when
// scraped: state, leader known, indexes, time since the leader was heard.
type raftCollector struct{ r *raft.Raft }

var (
	descRaftState = prometheus.NewDesc("lienthong_raft_state",
		"1 for this node's Raft state (Leader, Follower, Candidate, Shutdown), 0 for the others.", []string{"state"}, nil)
	descRaftHasLeader = prometheus.NewDesc("lienthong_raft_has_leader",
		"1 if this node knows a Raft leader; 0 means metadata writes fail with no_quorum.", nil, nil)
	descRaftCommit = prometheus.NewDesc("lienthong_raft_commit_index",
		"Raft commit index known to this node.", nil, nil)
	descRaftApplied = prometheus.NewDesc("lienthong_raft_applied_index",
		"Raft index applied to this node's metadata.", nil, nil)
	descRaftContact = prometheus.NewDesc("lienthong_raft_last_contact_seconds",
		"Seconds since this node last heard from the leader; 0 on the leader, -1 if never.", nil, nil)
	descRaftServers = prometheus.NewDesc("lienthong_raft_servers",
		"Servers in the Raft configuration, by suffrage (Voter, Nonvoter).", []string{"suffrage"}, nil)
)

func (raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftHasLeader, descRaftCommit, descRaftApplied, descRaftContact, descRaftServers} {
		ch <- d
	}
}

func (c raftCollector) Collect(ch chan<- prometheus.Metric) {
	state := c.r.State()
	for _, s := range []raft.RaftState{raft.Leader, raft.Follower, raft.Candidate, raft.Shutdown} {
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, b2f(s == state), s.String())
	}
	leader, _ := c.r.LeaderWithID()
	ch <- prometheus.MustNewConstMetric(descRaftHasLeader, prometheus.GaugeValue, b2f(leader != ""))
	commit, _ := strconv.ParseUint(c.r.Stats()["commit_index"], 10, 64)
	ch <- prometheus.MustNewConstMetric(descRaftCommit, prometheus.GaugeValue, float64(commit))
	ch <- prometheus.MustNewConstMetric(descRaftApplied, prometheus.GaugeValue, float64(c.r.AppliedIndex()))
	contact := -1.0
	if state == raft.Leader {
		contact = 0
	} else if lc := c.r.LastContact(); !lc.IsZero() {
		contact = time.Since(lc).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(descRaftContact, prometheus.GaugeValue, contact)
	counts := map[raft.ServerSuffrage]int{raft.Voter: 0, raft.Nonvoter: 0}
	if f := c.r.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			counts[s.Suffrage]++
		}
	}
	for _, s := range []raft.ServerSuffrage{raft.Voter, raft.Nonvoter} {
		ch <- prometheus.MustNewConstMetric(descRaftServers, prometheus.GaugeValue, float64(counts[s]), s.String())
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
