package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/lienthong/lienthong/sim"
)

func init() {
	register(&command{
		name: "sim run",
		args: "SCENARIO",
		short: "simulate a federation under a scenario's partitions, crashes and workload (a YAML file, or a built-in: " +
			strings.Join(sim.BuiltinNames(), ", ") + "); exit 1 if an invariant breaks",
		run: runSimRun,
	})
	register(&command{
		name:  "sim swarm",
		args:  "",
		short: "simulate a random scenario per seed; print every failing seed with the command that replays it",
		run:   runSimSwarm,
	})
}

// errInvariants is returned when a simulation breaks an invariant.
var errInvariants = errors.New("an invariant broke")

func runSimRun(ctx context.Context, std *IO, args []string) error {
	var (
		seed    uint64
		report  string
		verbose bool
	)
	fs := newFlags(std, "sim run", "SCENARIO")
	fs.Uint64Var(&seed, "seed", 0, "run this seed (default: every seed the scenario lists)")
	fs.StringVar(&report, "report", "", "write report.json and report.html into this directory (one subdirectory per seed when several run)")
	fs.BoolVar(&verbose, "v", false, "print the nodes' warnings to stderr")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	sc, err := sim.LoadScenario(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	seeds := sc.Seeds
	if seed != 0 {
		seeds = []uint64{seed}
	}
	var failed []string
	for _, s := range seeds {
		replay := fmt.Sprintf("lienthong sim run %s --seed %d", pos[0], s)
		dir := report
		if report != "" && len(seeds) > 1 {
			dir = filepath.Join(report, fmt.Sprintf("seed-%d", s))
		}
		r, err := simulate(std, sc, s, replay, dir, verbose)
		if err != nil {
			return err
		}
		if !r.OK() {
			failed = append(failed, replay)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w; replay with: %s", errInvariants, strings.Join(failed, " ; "))
	}
	return nil
}

func runSimSwarm(ctx context.Context, std *IO, args []string) error {
	var (
		seeds, start uint64
		report       string
	)
	fs := newFlags(std, "sim swarm", "")
	fs.Uint64Var(&seeds, "seeds", 20, "how many seeds to run")
	fs.Uint64Var(&start, "start", 1, "the first seed")
	fs.StringVar(&report, "report", "", "write the reports of failing seeds into this directory, one subdirectory per seed")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if seeds == 0 {
		return usagef("--seeds 0: want at least 1")
	}
	var failed []string
	for s := start; s < start+seeds; s++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		replay := fmt.Sprintf("lienthong sim swarm --start %d --seeds 1", s)
		sc := sim.SwarmScenario(s)
		r, err := runSim(sc, s, replay, nil)
		if err != nil {
			return err
		}
		verdict := "pass"
		if !r.OK() {
			verdict = "FAIL"
			failed = append(failed, replay)
			if report != "" {
				if err := r.WriteFiles(filepath.Join(report, fmt.Sprintf("seed-%d", s))); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(std.Out, "seed %-6d %s  %d events, %d writes, converged after a heal within %.0f s, trace %s\n",
			s, verdict, r.Stats.Events, r.Stats.Writes, r.ConvergedAfter, r.TraceHash[:12])
		if !r.OK() {
			for _, inv := range r.Invariants {
				if !inv.OK {
					fmt.Fprintf(std.Out, "    %s: %s\n", inv.Name, strings.Join(inv.Errors[:min(3, len(inv.Errors))], "; "))
				}
			}
			fmt.Fprintf(std.Out, "    replay: %s\n", replay)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w in %d of %d seeds; replay with: %s", errInvariants, len(failed), seeds, strings.Join(failed, " ; "))
	}
	fmt.Fprintf(std.Out, "all %d seeds passed\n", seeds)
	return nil
}

// simulate runs one seed of a scenario, prints its summary and writes its
// report if dir is set.
func simulate(std *IO, sc *sim.Scenario, seed uint64, replay, dir string, verbose bool) (*sim.Report, error) {
	var logger *slog.Logger
	if verbose {
		logger = slog.New(slog.NewTextHandler(std.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r, err := runSim(sc, seed, replay, logger)
	if err != nil {
		return nil, err
	}
	r.WriteSummary(std.Out)
	if dir != "" {
		if err := r.WriteFiles(dir); err != nil {
			return nil, err
		}
		fmt.Fprintf(std.Out, "  report: %s\n", filepath.Join(dir, "report.html"))
	}
	return r, nil
}

// runSim runs one seed of a scenario; logger, if not nil, gets the nodes' logs.
func runSim(sc *sim.Scenario, seed uint64, replay string, logger *slog.Logger) (*sim.Report, error) {
	s, err := sim.New(sc, sim.Options{Seed: seed, Logger: logger})
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer s.Close()
	return s.Run(replay), nil
}
