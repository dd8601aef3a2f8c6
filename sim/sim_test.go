package sim

import (
	"github.com/lienthong/lienthong/crdt"
	"os"
	"testing"
)

func runScenario(t *testing.T, name string, seed uint64) *Report {
	t.Helper()
	sc, err := LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(sc, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Run("")
}

func TestQuickScenario(t *testing.T) {
	r := runScenario(t, "quick", 1)
	t.Logf("wall %.1fs, events %d (%.0f/s), converged after %.1fs, stats %+v", r.WallSeconds, r.Stats.Events, r.EventsPerS, r.ConvergedAfter, r.Stats)
	for _, inv := range r.Invariants {
		t.Logf("%s ok=%v %s %v", inv.Name, inv.OK, inv.Detail, inv.Errors)
	}
	if !r.OK() {
		t.Fatal("invariants violated")
	}
}

// TestDeterminism: one seed gives one trace and one final state; another
// seed another trace.
func TestDeterminism(t *testing.T) {
	a, b := runScenario(t, "quick", 7), runScenario(t, "quick", 7)
	if a.TraceHash != b.TraceHash {
		t.Fatalf("seed 7 gave two traces: %s and %s", a.TraceHash, b.TraceHash)
	}
	if len(a.Digests) == 0 {
		t.Fatal("no digests to compare")
	}
	for ds, d := range a.Digests {
		if b.Digests[ds] != d {
			t.Fatalf("seed 7 gave two states of %s: %s and %s", ds, d, b.Digests[ds])
		}
	}
	if c := runScenario(t, "quick", 8); c.TraceHash == a.TraceHash {
		t.Fatal("seeds 7 and 8 gave the same trace")
	}
}

func TestVNProbe(t *testing.T) {
	r := runScenario(t, os.Getenv("SIMSC"), 1)
	t.Logf("wall %.1fs, events %d (%.0f/s), converged after %.1fs, stats %+v", r.WallSeconds, r.Stats.Events, r.EventsPerS, r.ConvergedAfter, r.Stats)
	for _, inv := range r.Invariants {
		t.Logf("%s ok=%v %s %v", inv.Name, inv.OK, inv.Detail, inv.Errors)
	}
}

func TestBrokenProbe(t *testing.T) {
	crdt.BrokenForTesting.Store(true)
	defer crdt.BrokenForTesting.Store(false)
	r := runScenario(t, os.Getenv("SIMSC"), 1)
	for _, inv := range r.Invariants {
		t.Logf("%s ok=%v %s %v", inv.Name, inv.OK, inv.Detail, inv.Errors[:min(3, len(inv.Errors))])
	}
}
