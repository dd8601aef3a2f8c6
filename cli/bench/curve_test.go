package bench

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReplFeed: both loads hand out every op once, in order, in ranges of
// at most replBatch; the paced one never hands out an op before it is due.
func TestReplFeed(t *testing.T) {
	for _, tc := range []struct {
		n    int
		rate float64
	}{{1234, 0}, {3000, 200_000}, {7, 1e9}} {
		out := make(chan [2]int)
		start := time.Now()
		go replFeed(context.Background(), start, tc.n, tc.rate, out)
		next := 0
		for b := range out {
			took := time.Since(start)
			if b[0] != next || b[1] <= b[0] || b[1]-b[0] > replBatch {
				t.Fatalf("n %d rate %v: range %v after op %d", tc.n, tc.rate, b, next)
			}
			if tc.rate == 0 && b[1] != tc.n && b[1]-b[0] != replBatch {
				t.Errorf("n %d at full blast: a short batch %v before the end", tc.n, b)
			}
			if due := time.Duration(float64(b[1]-1) / tc.rate * float64(time.Second)); tc.rate > 0 && took < due {
				t.Errorf("n %d rate %v: op %d handed out at %v, due at %v", tc.n, tc.rate, b[1]-1, took, due)
			}
			next = b[1]
		}
		if next != tc.n {
			t.Errorf("n %d rate %v: handed out %d ops", tc.n, tc.rate, next)
		}
	}

	// A cancelled context stops the feed and closes the channel.
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan [2]int)
	go replFeed(ctx, time.Now(), 10, 1, out)
	<-out // op 0 is due at once
	cancel()
	for range out {
	}
}

// TestReportGoals renders a report of made-up figures: the curve, the lag
// at each offered rate and the comparison with PostgreSQL and NATS show
// with their goals, met or not.
func TestReportGoals(t *testing.T) {
	repl := func(count int, ops float64) *ReplicateResult {
		return &ReplicateResult{Count: count, Runs: 1, OpBytes: 250,
			Results: []ReplRun{{OpsPerS: ops, RawOpsPerS: 1e6, LagP50Ms: 3, LagP99Ms: 9}}}
	}
	load := func(rate int, p99 float64) LoadRate {
		s := func(x float64) stat { return statOf([]float64{x}) }
		return LoadRate{Rate: rate, Count: rate * 5, Acked: s(float64(rate)), Reader: s(float64(rate)),
			LagP50: s(1), LagP99: s(p99), LagMax: s(2 * p99)}
	}
	peers := func(system string, perS float64) PeersSystem {
		return PeersSystem{System: system, Version: "1", Runs: []PeersRun{{EndToEndPerS: perS}}}
	}
	r := &Results{
		Sizes:   benchSizes{Runs: 1, Replicate: []int{50_000, 1_000_000}, Rates: []int{1000, 10_000}, LoadSeconds: 5, Peers: 1_000_000},
		Repl:    &ReplicateCurve{Sizes: []*ReplicateResult{repl(50_000, 20_000), repl(1_000_000, 18_000)}, Ratio: 0.9},
		ReplOps: statOf([]float64{18_000}),
		Load:    &LoadResult{Runs: 1, Rates: []LoadRate{load(1000, 25), load(10_000, 40)}},
		Peers:   []PeersSystem{peers("postgres", 12_000), peers("nats", 10_000)},
	}
	var b bytes.Buffer
	writeReport(&b, r, false)
	md := b.String()
	for _, want := range []string{
		"| 50000 | 20000 | 1000000 | 0.020 |",
		"| 1000000 | 18000 | 1000000 | 0.018 |",
		"= 18000 ÷ 20000 = **0.90**; goal ≥ 0.85: met.",
		"| 1000 | 5000 | 1000 | 1000 | 1.0 | 25.0 | 50.0 | ≤ 20 ms | **not met** |",
		"| 10000 | 50000 | 10000 | 10000 | 1.0 | 40.0 | 80.0 | ≤ 50 ms | met |",
		"| postgres 1 | 12000 | 1.50 | ≥ 1.0: met |",
		"| nats 1 | 10000 | 1.80 | ≥ 2.0: **not met** |",
		"| replication at 1000000 ops ≥ 0.85 × at 50000 ops | 0.90 | met |",
		"| lag p99 ≤ 20 ms at 1000 ops/s offered | 25.0 ms | **not met** |",
		"| lag p99 ≤ 50 ms at 10000 ops/s offered | 40.0 ms | met |",
		"| replication at 1000000 ops ≥ 1.0 × postgres's records/s | 18000 vs 12000 (1.50) | met |",
		"| replication at 1000000 ops ≥ 2.0 × nats's records/s | 18000 vs 10000 (1.80) | **not met** |",
		"`lienthong bench replicate --count 50000,1000000 --runs 1`",
		"`lienthong bench replicate --rate 1000,10000 --duration 5s --runs 1`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in the report:\n%s", want, md)
		}
	}
}

// TestSizesComparePeers: bench all compares PostgreSQL and NATS with
// lienthong's rate at the same count, which must be one of the curve's.
func TestSizesComparePeers(t *testing.T) {
	for name, sz := range map[string]benchSizes{"full": fullSizes, "quick": quickSizes} {
		if !slices.Contains(sz.Replicate, sz.Peers) {
			t.Errorf("%s: peers at %d, replication at %v", name, sz.Peers, sz.Replicate)
		}
		if len(sz.Replicate) < 2 || len(sz.Rates) == 0 || sz.LoadSeconds < 1 {
			t.Errorf("%s: no curve or no load: %+v", name, sz)
		}
	}
}
