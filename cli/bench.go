package cli

import (
	"context"
	"flag"
	"fmt"
	stdio "io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/cli/bench"
)

// The bench commands: flags here, the measurements in package bench.

func init() {
	register(&command{
		name:  "bench write",
		args:  "",
		short: "measure single-record writes/s on this disk, next to raw Pebble (no node needed)",
		run:   runBenchWrite,
	})
	register(&command{
		name:  "bench replicate",
		args:  "[--count N,...] [--rate OPS/S,... [--duration D]]",
		short: "measure replication between two nodes on loopback, next to raw libp2p stream throughput, at one or several counts; with --rate, the lag at fixed offered loads (no node needed)",
		run:   runBenchReplicate,
	})
	register(&command{
		name:  "bench peers",
		args:  "",
		short: "replicate the bench's citizen records with PostgreSQL logical replication and NATS JetStream on loopback (needs postgresql and nats-server; as root, installs them with apt-get)",
		run:   runBenchPeers,
	})
	register(&command{name: "bench heal", args: "[--count N] [--diverged D,...]",
		short: "bytes and time to heal after D of N ops diverged, against the zstd size of the D ops", run: runBenchHeal})
	register(&command{name: "bench join", args: "[--count N]",
		short: "time and bytes for a new reader to catch up with a dataset of N entities, against the zstd size of the dataset", run: runBenchJoin})
	register(&command{name: "bench memory", args: "[--count N]",
		short: "resident memory of a node process holding N entities, idle and while they are written, against the store's size on disk", run: runBenchMemory})
	register(&command{name: "bench all", args: "[--quick] [--out FILE.md] [--json FILE.json]",
		short: "run every benchmark against its reference and write the report (make bench; make bench-quick with --quick)", run: runBenchAll})
}

// printer is a bench result: its table, or its JSON.
type printer interface{ Print(w stdio.Writer) error }

// printResult prints r as JSON or as its table.
func printResult(std *IO, r printer, asJSON bool) error {
	if asJSON {
		return printJSON(std.Out, r)
	}
	return r.Print(std.Out)
}

// startCPUProfile profiles the process's CPU into file until stop.
func startCPUProfile(file string) (stop func(*IO), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func(std *IO) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(std.Err, "--cpuprofile: %v\n", err)
		}
	}, nil
}

// atLeastOne checks --count and --runs.
func atLeastOne(count, runs int) error {
	if count < 1 {
		return usagef("--count %d: want at least 1", count)
	}
	if runs < 1 {
		return usagef("--runs %d: want at least 1", runs)
	}
	return nil
}

func runBenchWrite(ctx context.Context, std *IO, args []string) error {
	var (
		dir, writersFlag string
		count, runs      int
		asJSON           bool
	)
	fs := newFlags(std, "bench write", "")
	fs.StringVar(&dir, "dir", "", "directory on the disk to measure (default: a temporary directory, removed after)")
	fs.IntVar(&count, "count", 20000, "writes per run, shared by the writers")
	fs.StringVar(&writersFlag, "writers", "1,8,64", "comma-separated numbers of concurrent writers")
	fs.IntVar(&runs, "runs", 3, "runs per figure; the table shows the median, min and max")
	fs.BoolVar(&asJSON, "json", false, "print the raw figures as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if err := atLeastOne(count, runs); err != nil {
		return err
	}
	writers, err := positiveInts("--writers", writersFlag)
	if err != nil {
		return err
	}
	r, err := bench.Write(ctx, bench.WriteOptions{Dir: dir, Count: count, Writers: writers, Runs: runs}, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, asJSON)
}

func runBenchReplicate(ctx context.Context, std *IO, args []string) error {
	var (
		countFlag, rateFlag, profile string
		runs                         int
		duration                     time.Duration
		asJSON                       bool
	)
	fs := newFlags(std, "bench replicate", "[--count N,...] [--rate OPS/S,... [--duration D]] [--runs N] [--cpuprofile FILE] [--json]")
	fs.StringVar(&countFlag, "count", "50000", "ops written at the writer per run; several, comma-separated (50000,1000000), measure each in the same run and the curve between the smallest and the largest; with --rate, the ops per run instead of --duration")
	fs.StringVar(&rateFlag, "rate", "", "comma-separated fixed offered loads in ops/s (1000,10000): write paced by time, every 1 ms the ops due, and report the lag per op and the rate achieved, instead of writing at full blast")
	fs.DurationVar(&duration, "duration", 10*time.Second, "with --rate: how long each run offers its load")
	fs.IntVar(&runs, "runs", 3, "runs per figure; the table shows the median, min and max")
	fs.BoolVar(&asJSON, "json", false, "print the raw figures as JSON")
	fs.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the whole run (both nodes, in this process, and the references) to FILE, for go tool pprof")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if profile != "" {
		stop, err := startCPUProfile(profile)
		if err != nil {
			return err
		}
		defer stop(std)
	}
	counts, err := positiveInts("--count", countFlag)
	if err != nil {
		return err
	}
	if err := atLeastOne(counts[0], runs); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if rateFlag == "" {
		if set["duration"] {
			return usagef("--duration: only with --rate")
		}
		if len(counts) == 1 {
			r, err := bench.Replicate(ctx, counts[0], runs, std.Err)
			if err != nil {
				return err
			}
			return printResult(std, r, asJSON)
		}
		r, err := bench.ReplicateCounts(ctx, counts, runs, std.Err)
		if err != nil {
			return err
		}
		return printResult(std, r, asJSON)
	}
	rates, err := positiveInts("--rate", rateFlag)
	if err != nil {
		return err
	}
	o := bench.LoadOptions{Rates: rates, Duration: duration, Runs: runs}
	if set["count"] {
		if len(counts) > 1 || set["duration"] {
			return usagef("--rate: give one --count (ops per run) or a --duration, not both")
		}
		o.Count = counts[0]
	} else if duration <= 0 {
		return usagef("--duration %v: want more than 0", duration)
	}
	r, err := bench.Load(ctx, o, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, asJSON)
}

// positiveInts parses a flag's comma-separated list of positive numbers.
func positiveInts(name, value string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(value, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, usagef("%s %q: want comma-separated positive numbers", name, value)
		}
		out = append(out, n)
	}
	return out, nil
}

func runBenchPeers(ctx context.Context, std *IO, args []string) error {
	var (
		count, runs int
		systemsFlag string
		asJSON      bool
	)
	fs := newFlags(std, "bench peers", "")
	fs.IntVar(&count, "count", 1000000, "records loaded at server A per run")
	fs.IntVar(&runs, "runs", 3, "runs per system; the table shows the median, min and max")
	fs.StringVar(&systemsFlag, "systems", strings.Join(bench.PeersSystems, ","), "comma-separated systems to measure: postgres, nats")
	fs.BoolVar(&asJSON, "json", false, "print the raw figures as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if err := atLeastOne(count, runs); err != nil {
		return err
	}
	var systems []string
	for _, s := range strings.Split(systemsFlag, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(bench.PeersSystems, s) || slices.Contains(systems, s) {
			return usagef("--systems %q: want a comma-separated list of distinct systems among %s", systemsFlag, strings.Join(bench.PeersSystems, ", "))
		}
		systems = append(systems, s)
	}
	r, err := bench.Peers(ctx, count, runs, systems, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, asJSON)
}

func runBenchHeal(ctx context.Context, std *IO, args []string) error {
	fs := newFlags(std, "bench heal", "[--count N] [--diverged D,...] [--json]")
	count := fs.Int("count", 200_000, "ops in the dataset (N); the issue's figure uses 1000000")
	diverged := fs.String("diverged", "1000,100000", "comma-separated numbers of ops written while the reader was cut off (D)")
	asJSON := fs.Bool("json", false, "print the raw figures as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	var ds []int
	for _, s := range strings.Split(*diverged, ",") {
		d, err := strconv.Atoi(s)
		if err != nil || d <= 0 || d >= *count {
			return usagef("--diverged %q: want numbers between 1 and --count", s)
		}
		ds = append(ds, d)
	}
	r, err := bench.Heal(ctx, *count, ds, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, *asJSON)
}

func runBenchJoin(ctx context.Context, std *IO, args []string) error {
	fs := newFlags(std, "bench join", "[--count N] [--json]")
	count := fs.Int("count", 200_000, "entities in the dataset; the issue's figure uses 1000000")
	runs := fs.Int("runs", 1, "runs; the table shows the median, min and max")
	asJSON := fs.Bool("json", false, "print the raw figures as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *count < 1 || *runs < 1 {
		return usagef("--count and --runs: want at least 1")
	}
	r, err := bench.Join(ctx, *count, *runs, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, *asJSON)
}

func runBenchMemory(ctx context.Context, std *IO, args []string) error {
	fs := newFlags(std, "bench memory", "[--count N] [--json]")
	count := fs.Int("count", 200_000, "entities written; the issue's figure uses 1000000")
	asJSON := fs.Bool("json", false, "print the raw figures as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *count < 1 {
		return usagef("--count %d: want at least 1", *count)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, err := bench.Memory(ctx, self, *count, std.Err)
	if err != nil {
		return err
	}
	return printResult(std, r, *asJSON)
}

func runBenchAll(ctx context.Context, std *IO, args []string) error {
	fs := newFlags(std, "bench all", "[--quick] [--out FILE.md] [--json FILE.json]")
	quick := fs.Bool("quick", false, "small sizes and one run each: a few minutes, for development")
	out := fs.String("out", "docs/benchmarks.md", "write the report here")
	jsonOut := fs.String("json", "docs/benchmarks.json", "write the raw figures here")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.All(ctx, bench.AllOptions{Bin: self, Quick: *quick, Out: *out, JSON: *jsonOut}, std.Out, std.Err)
}
