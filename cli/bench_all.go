package cli

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

func init() {
	register(&command{name: "bench all", args: "[--quick] [--out FILE.md] [--json FILE.json]",
		short: "run every benchmark against its reference and write the report (make bench; make bench-quick with --quick)", run: runBenchAll})
}

// benchSizes are the sizes of one bench all run.
type benchSizes struct {
	Runs        int `json:"runs"`
	Writes      int `json:"writes"`
	Replicate   int `json:"replicate_ops"`
	Peers       int `json:"peers_records"`
	Heal        int `json:"heal_n"`
	HealD       []int
	Join        int    `json:"join_n"`
	Memory      int    `json:"memory_n"`
	SimScenario string `json:"sim_scenario"`
}

var (
	fullSizes  = benchSizes{Runs: 3, Writes: 20_000, Replicate: 1_000_000, Peers: 1_000_000, Heal: 1_000_000, HealD: []int{1000, 100_000}, Join: 1_000_000, Memory: 1_000_000, SimScenario: "province-isolated-day"}
	quickSizes = benchSizes{Runs: 1, Writes: 5_000, Replicate: 50_000, Peers: 50_000, Heal: 100_000, HealD: []int{1000, 10_000}, Join: 300_000, Memory: 100_000, SimScenario: "quick"}
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

// benchResults is everything bench all measured: the JSON file.
type benchResults struct {
	Date     string            `json:"date"`
	Machine  map[string]string `json:"machine"`
	Sizes    benchSizes        `json:"sizes"`
	Writes   []benchRow        `json:"writes"`
	Repl     []replFigure      `json:"replication"`
	ReplOps  stat              `json:"replication_1m_ops_per_s"`
	Peers    []peersSystem     `json:"peers"`
	PeersErr string            `json:"peers_error,omitempty"`
	Heal     map[int][]healRun `json:"heal"`
	Join     []joinRun         `json:"join"`
	Memory   []memRun          `json:"memory"`
	Sim      []*sim.Report     `json:"sim"`
	Seconds  float64           `json:"seconds"`
}

func runBenchAll(ctx context.Context, std *IO, args []string) error {
	fs := newFlags(std, "bench all", "[--quick] [--out FILE.md] [--json FILE.json]")
	quick := fs.Bool("quick", false, "small sizes and one run each: a few minutes, for development")
	out := fs.String("out", "docs/benchmarks.md", "write the report here")
	jsonOut := fs.String("json", "docs/benchmarks.json", "write the raw figures here")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	sz := fullSizes
	if *quick {
		sz = quickSizes
	}
	start := time.Now()
	res := benchResults{Date: start.UTC().Format("2006-01-02 15:04 UTC"), Machine: machineInfo(), Sizes: sz, Heal: map[int][]healRun{}}
	step := func(what string) {
		fmt.Fprintf(std.Err, "== %s (%s elapsed)\n", what, time.Since(start).Round(time.Second))
	}
	runs := strconv.Itoa(sz.Runs)

	step("1. durable local writes")
	var w struct{ Results []benchRow }
	if err := benchJSON(ctx, std, &w, "bench", "write", "--count", strconv.Itoa(sz.Writes), "--runs", runs, "--json"); err != nil {
		return err
	}
	res.Writes = w.Results

	step("2. replication between two nodes")
	var rp struct{ Figures []replFigure }
	if err := benchJSON(ctx, std, &rp, "bench", "replicate", "--count", strconv.Itoa(sz.Replicate), "--runs", runs, "--json"); err != nil {
		return err
	}
	res.Repl = rp.Figures
	if len(rp.Figures) > 0 {
		res.ReplOps = statOf(rp.Figures[0].Lienthong)
	}

	step("3. PostgreSQL logical replication and NATS JetStream")
	var pr struct{ Results []peersSystem }
	if err := benchJSON(ctx, std, &pr, "bench", "peers", "--count", strconv.Itoa(sz.Peers), "--runs", runs, "--json"); err != nil {
		res.PeersErr = err.Error() // reported, not fatal: the rest still counts
	}
	res.Peers = pr.Results

	step("4. healing after a partition")
	for r := 0; r < sz.Runs; r++ {
		var hs []healRun
		if err := benchJSON(ctx, std, &hs, "bench", "heal", "--count", strconv.Itoa(sz.Heal), "--diverged", joinInts(sz.HealD), "--json"); err != nil {
			return err
		}
		for _, h := range hs {
			res.Heal[h.D] = append(res.Heal[h.D], h)
		}
	}

	step("5. a new node catching up")
	if err := benchJSON(ctx, std, &res.Join, "bench", "join", "--count", strconv.Itoa(sz.Join), "--runs", runs, "--json"); err != nil {
		return err
	}

	step("6. memory")
	for r := 0; r < sz.Runs; r++ {
		var m memRun
		if err := benchJSON(ctx, std, &m, "bench", "memory", "--count", strconv.Itoa(sz.Memory), "--json"); err != nil {
			return err
		}
		res.Memory = append(res.Memory, m)
	}

	step("7. the simulator")
	sc, err := sim.LoadScenario(sz.SimScenario)
	if err != nil {
		return err
	}
	for r := 0; r < sz.Runs; r++ {
		rep, err := runSim(sc, 1, "lienthong sim run "+sz.SimScenario+" --seed 1", nil)
		if err != nil {
			return err
		}
		rep.Series = nil // the plots are sim run's business
		res.Sim = append(res.Sim, rep)
	}
	res.Seconds = time.Since(start).Seconds()

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	writeBenchReport(&md, &res, *quick)
	if err := os.WriteFile(*out, md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(std.Out, "wrote %s and %s in %s\n", *out, *jsonOut, time.Since(start).Round(time.Second))
	return nil
}

// benchJSON runs a bench command in this process with its JSON output
// decoded into v; its progress goes to std.Err.
func benchJSON(ctx context.Context, std *IO, v any, args ...string) error {
	var out, errb bytes.Buffer
	code := Main(ctx, args, &IO{In: strings.NewReader(""), Out: &out, Err: io.MultiWriter(std.Err, &errb), Env: std.Env})
	if code != ExitOK {
		return fmt.Errorf("%s failed (exit %d): %s", strings.Join(args, " "), code, finalLine(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("%s: unreadable JSON: %w", strings.Join(args, " "), err)
	}
	return nil
}

func finalLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
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
