package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// SwarmScenario returns the random scenario of one swarm seed: the small
// topology for one to two hours, with random partitions, cuts, chains,
// lossy and duplicating links, flaps, crashes, clock skew, slow nodes,
// reader changes and, in most seeds, a dataset transferred while its owner
// is cut off. The same seed gives the same scenario.
func SwarmScenario(seed uint64) *Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x73776172_6d000000))
	dur := time.Hour + time.Duration(rng.IntN(7))*10*time.Minute
	sc := &Scenario{
		Name:     fmt.Sprintf("swarm-%d", seed),
		Topology: "small",
		Duration: Duration(dur),
		Seeds:    []uint64{seed},
		Workload: Workload{
			ProvinceEvery: Duration(time.Duration(15+rng.IntN(60)) * time.Second),
			MinistryEvery: Duration(time.Duration(5+rng.IntN(20)) * time.Second),
			Keys:          20 + rng.IntN(100),
		},
	}
	nodes := []string{"ndc1", "p01", "p46", "p79", "mps", "moh", "mae"}
	provinces := []string{"p01", "p46", "p79"}
	pick := func(from []string) string { return from[rng.IntN(len(from))] }
	// at returns a random time in the first 80% of the workload, span a
	// duration of 2 to 40 minutes that ends before the workload does.
	at := func() time.Duration { return time.Duration(rng.Int64N(int64(dur) * 8 / 10)) }
	span := func(from time.Duration) Duration {
		return Duration(min(from+time.Duration(2+rng.IntN(39))*time.Minute, dur))
	}
	if rng.IntN(10) < 7 {
		// The transfer during a partition: the owner is cut off, the
		// dataset moves, the old owner keeps writing on stale metadata.
		p := pick(provinces)
		to := pick([]string{"p01", "p46", "p79", "mae"})
		if to == p {
			to = "mae"
		}
		t := at()
		sc.Events = append(sc.Events,
			Event{At: Duration(t), Until: Duration(min(t+time.Duration(20+rng.IntN(40))*time.Minute, dur)), Isolate: p},
			Event{At: Duration(t + time.Duration(1+rng.IntN(5))*time.Minute), Transfer: &Transfer{Dataset: "land." + p[1:], To: to}})
	}
	for range 3 + rng.IntN(7) {
		t := at()
		e := Event{At: Duration(t), Until: span(t)}
		switch rng.IntN(11) {
		case 0:
			a, b := shuffle(rng, nodes)
			e.Partition = [][]string{a, b}
		case 1:
			e.Isolate = pick(nodes)
		case 2:
			e.Cut = &Pair{From: pick(nodes), To: pick(nodes)}
		case 3:
			a, b, c := pick(nodes), pick(nodes), pick(nodes)
			if a == b || b == c || a == c {
				continue
			}
			e.Chain = []string{a, b, c}
		case 4:
			e.Link = &LinkFault{From: "all", To: "all", Both: true, Loss: rng.Float64() * 0.3,
				Duplicate: rng.Float64() * 0.3, Delay: Duration(time.Duration(rng.IntN(200)) * time.Millisecond)}
		case 5:
			e.Flap = &Flap{From: pick(nodes), To: "all", Every: Duration(time.Duration(1+rng.IntN(10)) * time.Minute)}
		case 6, 7:
			e.Crash = pick(nodes)
			e.Unsynced = rng.IntN(2) == 0
		case 8:
			e.Skew = &Skew{Node: pick(nodes), By: Duration(time.Duration(rng.IntN(120)-60) * time.Second)}
		case 9:
			e.Slow = &Slow{Node: pick(nodes), Factor: float64(2 + rng.IntN(30))}
		case 10:
			e.Until = 0
			r := &Reader{Dataset: "population.identity", Reader: pick(provinces), At: pick(nodes)}
			if rng.IntN(2) == 0 {
				e.Revoke = r
			} else {
				e.Grant = r
			}
		}
		sc.Events = append(sc.Events, e)
	}
	sc.Network.PullOnly = rng.IntN(4) == 0 // the node's replication.push: false, in a quarter of the seeds
	if err := sc.defaults(); err != nil {
		panic(fmt.Sprintf("sim: swarm seed %d made a bad scenario: %v", seed, err)) // a bug here
	}
	return sc
}

// shuffle splits names into two non-empty random groups.
func shuffle(rng *rand.Rand, names []string) ([]string, []string) {
	s := append([]string(nil), names...)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	k := 1 + rng.IntN(len(s)-1)
	return s[:k], s[k:]
}
