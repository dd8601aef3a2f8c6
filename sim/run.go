package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Sample is one point of the report's series.
type Sample struct {
	T float64 `json:"t_s"` // simulated seconds since the start
	// LagOps is the ops the authorised replicas lacked, summed; CaughtUp
	// the share of (dataset, replica) pairs that lacked none.
	LagOps   int64   `json:"lag_ops"`
	CaughtUp float64 `json:"caught_up"`
}

// Report is the outcome of a run.
type Report struct {
	Scenario    string  `json:"scenario"`
	Description string  `json:"description,omitempty"`
	Topology    string  `json:"topology"`
	Seed        uint64  `json:"seed"`
	Nodes       int     `json:"nodes"`
	SimSeconds  float64 `json:"simulated_s"`
	WallSeconds float64 `json:"wall_s"`
	EventsPerS  float64 `json:"events_per_wall_s"`
	TraceHash   string  `json:"trace_hash"`
	// ConvergedAfter is the longest simulated time, over every full heal
	// (no network fault left, every node up; at the latest the final
	// heal), until every authorised replica held the same heads; -1 if
	// after some heal they never did.
	ConvergedAfter float64           `json:"converged_after_heal_s"`
	Stats          Stats             `json:"stats"`
	BytesPerNode   map[string]int64  `json:"bytes_per_node"`
	Digests        map[string]string `json:"digests"` // dataset -> digest at its owner
	Invariants     []Invariant       `json:"invariants"`
	Series         []Sample          `json:"series"`
	// Replay is the command that runs this again.
	Replay string `json:"replay"`
}

// OK reports whether every invariant held.
func (r *Report) OK() bool {
	return !slices.ContainsFunc(r.Invariants, func(i Invariant) bool { return !i.OK })
}

// Run runs the workload and its events for the scenario's duration, heals
// everything (links, crashes, clocks), lets the federation settle for the
// quiet period and checks the invariants.
func (s *Sim) Run(replay string) *Report {
	start := time.Now()
	total := s.sc.Duration.D() + s.sc.Quiet.D()
	every := max(total/time.Duration(s.opts.Samples), time.Second)
	var sample func() string
	sample = func() string {
		lag, caught := s.lag()
		s.series = append(s.series, Sample{T: s.now.Seconds(), LagOps: lag, CaughtUp: caught})
		if s.now+every <= total {
			s.after(every, "sample", nil, nil, sample)
		}
		return fmt.Sprintf("lag=%d", lag)
	}
	s.after(0, "sample", nil, nil, sample)
	s.consistentReads(10 * time.Minute)
	s.runUntil(s.sc.Duration.D())

	// The final heal.
	s.healed = s.now
	s.net.healAll()
	for _, n := range s.nodes {
		n.skew, n.slow = 0, 1
	}
	s.record("heal", nil, nil, s.restart(s.nodes))
	s.afterHeal()
	s.probe()
	s.runUntil(total)

	s.digests = map[string]string{}
	r := &Report{Scenario: s.sc.Name, Description: s.sc.Description, Topology: s.sc.Topology, Seed: s.opts.Seed,
		Nodes: len(s.nodes), SimSeconds: total.Seconds(), ConvergedAfter: -1,
		Invariants: s.check(), Series: s.series, Digests: s.digests, BytesPerNode: map[string]int64{}, Replay: replay}
	if len(s.converged) == len(s.heals) {
		r.ConvergedAfter = slices.Max(s.converged).Seconds()
	}
	s.stats.Events = s.events
	for _, n := range s.nodes {
		r.BytesPerNode[n.spec.Name] = n.sent + n.recv
		s.stats.Bytes += n.sent
	}
	for _, d := range slices.Sorted(maps.Keys(r.Digests)) {
		fmt.Fprintf(s.trace, "digest %s %s\n", d, r.Digests[d])
	}
	r.Stats = s.stats
	r.TraceHash = s.TraceHash()
	r.WallSeconds = time.Since(start).Seconds()
	r.EventsPerS = float64(s.events) / max(r.WallSeconds, 1e-9)
	return r
}

// probe measures, from now, if no fault is left (every link healed, every
// node up), the time until every authorised replica holds the same heads,
// checking every simulated second.
func (s *Sim) probe() {
	if s.probing || len(s.net.faults) > 0 || slices.ContainsFunc(s.nodes, func(n *node) bool { return !n.up }) {
		return
	}
	s.probing = true
	from := s.now
	s.heals = append(s.heals, from)
	var probe func() string
	probe = func() string {
		if s.headsConverged() {
			s.probing = false
			for len(s.converged) < len(s.heals) {
				s.converged = append(s.converged, s.now-s.heals[len(s.converged)])
			}
			return "converged"
		}
		s.after(time.Second, "probe", nil, nil, probe)
		return "not yet"
	}
	s.after(0, "probe", nil, nil, probe)
}

// consistentReads reads, every d while the workload runs, one dataset's
// metadata linearizably at a random node, for the porcupine check.
func (s *Sim) consistentReads(d time.Duration) {
	s.after(d, "read", nil, nil, func() string {
		if s.now < s.sc.Duration.D() {
			s.consistentReads(d)
		}
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		ds := s.topo.Datasets[s.rng.IntN(len(s.topo.Datasets))].Dataset.Name
		return n.spec.Name + " " + s.consistentRead(n, ds)
	})
}
