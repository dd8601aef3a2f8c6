package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/sim"
)

// benchSizes are the sizes of one bench all run.
type benchSizes struct {
	Runs   int `json:"runs"`
	Writes int `json:"writes"`
	// Replicate are the counts of the replication curve; Peers must be one
	// of them, the one compared with PostgreSQL and NATS.
	Replicate []int `json:"replicate_ops"`
	// Rates are the offered loads of the lag figures, each for LoadSeconds.
	Rates       []int `json:"offered_ops_per_s"`
	LoadSeconds int   `json:"load_seconds"`
	Peers       int   `json:"peers_records"`
	Heal        int   `json:"heal_n"`
	HealD       []int
	Join        int    `json:"join_n"`
	Memory      int    `json:"memory_n"`
	SimScenario string `json:"sim_scenario"`
}

var (
	fullSizes  = benchSizes{Runs: 3, Writes: 20_000, Replicate: []int{50_000, 1_000_000}, Rates: []int{1000, 10_000}, LoadSeconds: 30, Peers: 1_000_000, Heal: 1_000_000, HealD: []int{1000, 100_000}, Join: 1_000_000, Memory: 1_000_000, SimScenario: "province-isolated-day"}
	quickSizes = benchSizes{Runs: 1, Writes: 5_000, Replicate: []int{5_000, 20_000}, Rates: []int{1000, 10_000}, LoadSeconds: 5, Peers: 20_000, Heal: 100_000, HealD: []int{1000, 10_000}, Join: 300_000, Memory: 100_000, SimScenario: "quick"}
)

// stat is a figure over runs.
type stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	return stat{Median: benchMedian(xs), Min: slices.Min(xs), Max: slices.Max(xs), Runs: xs}
}

// Results is everything bench all measured: the JSON file.
type Results struct {
	Date    string            `json:"date"`
	Machine map[string]string `json:"machine"`
	Sizes   benchSizes        `json:"sizes"`
	Writes  []WriteRow        `json:"writes"`
	Repl    *ReplicateCurve   `json:"replication"`
	// ReplOps is the reader's ops/s at Sizes.Peers ops.
	ReplOps  stat              `json:"replication_ops_per_s"`
	Load     *LoadResult       `json:"lag_at_offered_load"`
	Peers    []PeersSystem     `json:"peers"`
	PeersErr string            `json:"peers_error,omitempty"`
	Heal     map[int][]HealRun `json:"heal"`
	Join     []JoinRun         `json:"join"`
	Memory   []MemRun          `json:"memory"`
	Sim      []*sim.Report     `json:"sim"`
	Seconds  float64           `json:"seconds"`
}

// AllOptions are what bench all runs.
type AllOptions struct {
	// Bin is the lienthong binary, for bench memory's node.
	Bin string
	// Quick uses small sizes and one run each.
	Quick bool
	// Out and JSON are the files the report and the raw figures are
	// written to.
	Out, JSON string
}

// All runs every benchmark against its reference and writes the report
// and the raw figures; it says on stdout what it wrote, and its progress,
// with every benchmark's, goes to progress. It blocks for minutes (hours at
// full size).
func All(ctx context.Context, o AllOptions, stdout, progress io.Writer) error {
	sz := fullSizes
	if o.Quick {
		sz = quickSizes
	}
	start := time.Now()
	res := Results{Date: start.UTC().Format("2006-01-02 15:04 UTC"), Machine: machineInfo(), Sizes: sz, Heal: map[int][]HealRun{}}
	step := func(what string) {
		fmt.Fprintf(progress, "== %s (%s elapsed)\n", what, time.Since(start).Round(time.Second))
	}

	step("1. durable local writes")
	w, err := Write(ctx, WriteOptions{Count: sz.Writes, Writers: []int{1, 8, 64}, Runs: sz.Runs}, progress)
	if err != nil {
		return fmt.Errorf("bench write: %w", err)
	}
	res.Writes = w.Results

	step("2. replication between two nodes, at " + joinInts(sz.Replicate) + " ops")
	if res.Repl, err = ReplicateCounts(ctx, sz.Replicate, sz.Runs, progress); err != nil {
		return fmt.Errorf("bench replicate: %w", err)
	}
	for _, r := range res.Repl.Sizes {
		if r.Count == sz.Peers {
			res.ReplOps = statOf(col(r.Results, func(x ReplRun) float64 { return x.OpsPerS }))
		}
	}

	step("3. lag at a fixed offered load of " + joinInts(sz.Rates) + " ops/s")
	if res.Load, err = Load(ctx, LoadOptions{Rates: sz.Rates, Duration: time.Duration(sz.LoadSeconds) * time.Second, Runs: sz.Runs}, progress); err != nil {
		return fmt.Errorf("bench replicate --rate: %w", err)
	}

	step("4. PostgreSQL logical replication and NATS JetStream")
	if pr, err := Peers(ctx, sz.Peers, sz.Runs, PeersSystems, progress); err != nil {
		res.PeersErr = "bench peers: " + strings.ReplaceAll(err.Error(), "\n", "; ") // reported, not fatal: the rest still counts
	} else {
		res.Peers = pr.Results
	}

	step("5. healing after a partition")
	for r := 0; r < sz.Runs; r++ {
		hs, err := Heal(ctx, sz.Heal, sz.HealD, progress)
		if err != nil {
			return fmt.Errorf("bench heal: %w", err)
		}
		for _, h := range hs {
			res.Heal[h.D] = append(res.Heal[h.D], h)
		}
	}

	step("6. a new node catching up")
	if res.Join, err = Join(ctx, sz.Join, sz.Runs, progress); err != nil {
		return fmt.Errorf("bench join: %w", err)
	}

	step("7. memory")
	for r := 0; r < sz.Runs; r++ {
		m, err := Memory(ctx, o.Bin, sz.Memory, progress)
		if err != nil {
			return fmt.Errorf("bench memory: %w", err)
		}
		res.Memory = append(res.Memory, *m)
	}

	step("8. the simulator")
	sc, err := sim.LoadScenario(sz.SimScenario)
	if err != nil {
		return err
	}
	for r := 0; r < sz.Runs; r++ {
		s, err := sim.New(sc, sim.Options{Seed: 1})
		if err != nil {
			return err
		}
		rep := s.Run("lienthong sim run " + sz.SimScenario + " --seed 1")
		s.Close()
		rep.Series = nil // the plots are sim run's business
		res.Sim = append(res.Sim, rep)
	}
	res.Seconds = time.Since(start).Seconds()

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.JSON, append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	writeReport(&md, &res, o.Quick)
	if err := os.WriteFile(o.Out, md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s in %s\n", o.Out, o.JSON, time.Since(start).Round(time.Second))
	return nil
}

// machineInfo describes the machine and the versions, as the report shows them.
func machineInfo() map[string]string {
	m := map[string]string{"go": runtime.Version(), "cores": strconv.Itoa(runtime.NumCPU()), "lienthong": node.Version}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				m["memory"] = fmt.Sprintf("%.0f GiB", kb/(1<<20))
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	return m
}
