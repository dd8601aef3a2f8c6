package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// CurveGoal is issue 11's goal for the replication curve: the reader's
// ops/s at the largest count at least this fraction of its ops/s at the
// smallest (1,000,000 against 50,000 ops in make bench).
const CurveGoal = 0.85

// LagGoalMs returns issue 11's goal for the p99 write-to-remote-apply lag
// at an offered load of rate ops/s, and whether it sets one.
func LagGoalMs(rate int) (float64, bool) {
	switch rate {
	case 1000:
		return 20, true
	case 10000:
		return 50, true
	}
	return 0, false
}

// ReplicateCurve is bench replicate at several counts in one run: how the
// reader's rate changes as the store grows.
type ReplicateCurve struct {
	// Sizes are the results by count, smallest first.
	Sizes []*ReplicateResult `json:"sizes"`
	// Ratio is the reader's median ops/s at the largest count over that at
	// the smallest.
	Ratio float64 `json:"curve_ratio"`
}

// ReplicateCounts runs Replicate at each of counts, smallest first.
func ReplicateCounts(ctx context.Context, counts []int, runs int, progress io.Writer) (*ReplicateCurve, error) {
	counts = slices.Sorted(slices.Values(counts))
	c := &ReplicateCurve{}
	for _, n := range counts {
		fmt.Fprintf(progress, "replicate %d ops:\n", n)
		r, err := Replicate(ctx, n, runs, progress)
		if err != nil {
			return nil, err
		}
		c.Sizes = append(c.Sizes, r)
	}
	if len(c.Sizes) > 0 {
		if first := c.Sizes[0].ReaderOpsPerS(); first > 0 {
			c.Ratio = c.Sizes[len(c.Sizes)-1].ReaderOpsPerS() / first
		}
	}
	return c, nil
}

// ReaderOpsPerS is the median over the runs of the ops/s at the reader.
func (r *ReplicateResult) ReaderOpsPerS() float64 {
	return benchMedian(col(r.Results, func(x ReplRun) float64 { return x.OpsPerS }))
}

// Summary says, in one line, the curve's ratio against CurveGoal.
func (c *ReplicateCurve) Summary() string {
	first, last := c.Sizes[0], c.Sizes[len(c.Sizes)-1]
	return fmt.Sprintf("ops/s at the reader at %d ops ÷ at %d ops: %.0f ÷ %.0f = %.2f (goal ≥ %.2f: %s)",
		last.Count, first.Count, last.ReaderOpsPerS(), first.ReaderOpsPerS(), c.Ratio, CurveGoal, plainMet(c.Ratio >= CurveGoal))
}

// Print writes each count's table, then the curve.
func (c *ReplicateCurve) Print(w io.Writer) error {
	for i, r := range c.Sizes {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := r.Print(w); err != nil {
			return err
		}
	}
	if len(c.Sizes) > 1 {
		fmt.Fprintf(w, "\ncurve: %s\n", c.Summary())
	}
	return nil
}

// LoadOptions are what Load runs.
type LoadOptions struct {
	// Rates are the offered loads, in ops/s, each run on its own.
	Rates []int
	// Count is the ops written per run; 0 means rate × Duration.
	Count int
	// Duration is how long each run offers its load when Count is 0.
	Duration time.Duration
	// Runs is the runs per rate.
	Runs int
}

// LoadRate is what Load measured at one offered rate, each figure over the
// runs.
type LoadRate struct {
	Rate    int       `json:"offered_ops_per_s"`
	Count   int       `json:"count"`
	Acked   stat      `json:"writer_acked_ops_per_s"`
	Reader  stat      `json:"reader_ops_per_s"`
	LagP50  stat      `json:"lag_p50_ms"`
	LagP99  stat      `json:"lag_p99_ms"`
	LagMax  stat      `json:"lag_max_ms"`
	Results []ReplRun `json:"results"`
}

// LoadResult is what bench replicate --rate measured (its --json output).
type LoadResult struct {
	Batch   int        `json:"max_batch"`
	TickMs  float64    `json:"tick_ms"`
	Writers int        `json:"writers"`
	Runs    int        `json:"runs"`
	Rates   []LoadRate `json:"rates"`
}

// Load measures the write-to-remote-apply lag between two nodes on
// loopback at fixed offered loads: for each rate, o.Runs runs of a fresh
// federation whose writer is paced at that rate (see replFeed), lag
// measured per op as bench replicate measures it at full blast.
func Load(ctx context.Context, o LoadOptions, progress io.Writer) (*LoadResult, error) {
	tmp, err := os.MkdirTemp("", "lienthong-bench-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	res := &LoadResult{Batch: replBatch, TickMs: float64(replTick) / float64(time.Millisecond), Writers: replWriters, Runs: o.Runs}
	for _, rate := range o.Rates {
		n := o.Count
		if n == 0 {
			n = max(1, int(float64(rate)*o.Duration.Seconds()))
		}
		recs, err := benchRecords(n)
		if err != nil {
			return nil, err
		}
		lr := LoadRate{Rate: rate, Count: n}
		for r := 1; r <= o.Runs; r++ {
			fmt.Fprintf(progress, "run %d/%d: %d ops offered at %d ops/s from %s to %s...\n", r, o.Runs, n, rate, replWriterName, replReaderName)
			run, err := benchReplicateOnce(ctx, filepath.Join(tmp, fmt.Sprintf("%d-%d", rate, r)), recs, float64(rate))
			if err != nil {
				return nil, err
			}
			lr.Results = append(lr.Results, run)
		}
		of := func(f func(ReplRun) float64) stat { return statOf(col(lr.Results, f)) }
		lr.Acked = of(func(x ReplRun) float64 { return x.WriteOpsPerS })
		lr.Reader = of(func(x ReplRun) float64 { return x.OpsPerS })
		lr.LagP50 = of(func(x ReplRun) float64 { return x.LagP50Ms })
		lr.LagP99 = of(func(x ReplRun) float64 { return x.LagP99Ms })
		lr.LagMax = of(func(x ReplRun) float64 { return x.LagMaxMs })
		res.Rates = append(res.Rates, lr)
	}
	return res, nil
}

// Goal says the p99 lag goal at lr's rate and whether it is met, or "–".
func (lr *LoadRate) Goal() string {
	g, ok := LagGoalMs(lr.Rate)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("≤ %.0f ms: %s", g, plainMet(lr.LagP99.Median <= g))
}

// Print writes the result as bench replicate --rate's table.
func (r *LoadResult) Print(w io.Writer) error {
	fmt.Fprintf(w, "citizens (%s) written at a fixed offered rate from %s to %s over libp2p on loopback: every %.0f ms the ops due\n",
		benchDataset, replWriterName, replReaderName, r.TickMs)
	fmt.Fprintf(w, "by then (op i at i ÷ rate s) go as one batch (at most %d) to %d writer goroutines; lag per op from the writer's\n", r.Batch, r.Writers)
	fmt.Fprintf(w, "acknowledgement to the reader's apply (visible to reads there; it syncs them next, and credits them once synced),\n")
	fmt.Fprintf(w, "its head read every 1 ms. Median of %d runs (min–max).\n", r.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "offered ops/s\tops\tacked ops/s\treader ops/s\tlag p50 (ms)\tlag p99 (ms)\tlag max (ms)\tgoal p99\t")
	for _, lr := range r.Rates {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", lr.Rate, lr.Count, fig(lr.Acked, 0), fig(lr.Reader, 0),
			fig(lr.LagP50, 1), fig(lr.LagP99, 1), fig(lr.LagMax, 1), lr.Goal())
	}
	return tw.Flush()
}

// plainMet is met without the report's markdown emphasis, for a terminal.
func plainMet(ok bool) string { return strings.Trim(met(ok), "*") }
