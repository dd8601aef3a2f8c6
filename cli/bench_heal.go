package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/data"
)

func init() {
	register(&command{name: "bench heal", args: "[--count N] [--diverged D,...]",
		short: "bytes and time to heal after D of N ops diverged, against the zstd size of the D ops", run: runBenchHeal})
}

type healRun struct {
	N, D          int
	HealBytes     float64 `json:"heal_bytes"`
	Compressed    int     `json:"compressed_diverged_bytes"`
	Raw           int     `json:"raw_diverged_bytes"`
	Ratio         float64 `json:"ratio"`
	HealSeconds   float64 `json:"heal_seconds"`
	PartitionNote string  `json:"partition"`
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
	recs, err := benchRecords(*count)
	if err != nil {
		return err
	}
	var runs []healRun
	for _, d := range ds {
		fmt.Fprintf(std.Err, "N=%d, D=%d...\n", *count, d)
		dir, err := os.MkdirTemp("", "lienthong-heal-")
		if err != nil {
			return err
		}
		run, err := benchHealOnce(ctx, dir, recs, d)
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	if *asJSON {
		return printJSON(std.Out, runs)
	}
	fmt.Fprintf(std.Out, "healing after a partition: the reader is stopped, the writer writes D of N ops, the reader restarts and pulls.\n")
	fmt.Fprintf(std.Out, "%10s %10s %14s %22s %8s %10s\n", "N", "D", "heal bytes", "zstd of the D ops", "ratio", "heal s")
	for _, r := range runs {
		fmt.Fprintf(std.Out, "%10d %10d %14.0f %22d %8.2f %10.2f\n", r.N, r.D, r.HealBytes, r.Compressed, r.Ratio, r.HealSeconds)
	}
	return nil
}

// benchHealOnce writes N-D ops with the reader up, D with it stopped, and
// measures what the reader receives to catch up once restarted.
func benchHealOnce(ctx context.Context, dir string, recs []benchRecord, d int) (run healRun, err error) {
	f, err := startReplFed(ctx, dir)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, f.close()) }()
	if err := f.setupDataset(ctx); err != nil {
		return run, err
	}
	n := len(recs)
	if err := writeRecs(ctx, f.writer, recs[:n-d]); err != nil {
		return run, err
	}
	if err := replWait(ctx, "the reader has the first N-D ops", func() bool {
		seq, _ := readerSeq(f.reader)
		return seq >= uint64(n-d) && (d < n || f.readerConnected())
	}); err != nil {
		return run, err
	}
	// Partition: the reader goes away (a province cut off).
	rdir := filepath.Join(dir, replReaderName)
	f.reader.Close()
	f.reader = nil
	if err := writeRecs(ctx, f.writer, recs[n-d:]); err != nil {
		return run, err
	}
	// The reference: the D ops as the writer stored them, zstd-compressed
	// together (the best a transfer of exactly them could do).
	var raw []byte
	if err := f.writer.Store().OpRange(benchDataset, replWriterName, uint64(n-d+1), uint64(n), func(_ uint64, enc []byte) bool {
		raw = append(raw, enc...)
		return true
	}); err != nil {
		return run, err
	}
	enc, _ := zstd.NewWriter(nil)
	run.Compressed, run.Raw = len(enc.EncodeAll(raw, nil)), len(raw)
	// Heal: the reader restarts and pulls what it lacks.
	rcfg, err := node.LoadConfig(rdir)
	if err != nil {
		return run, err
	}
	start := time.Now()
	if f.reader, err = node.New(rcfg, node.Options{FastTimers: true}); err != nil {
		return run, err
	}
	if err := replWait(ctx, "the reader catches up", func() bool {
		seq, _ := readerSeq(f.reader)
		return seq >= uint64(n)
	}); err != nil {
		return run, err
	}
	run.HealSeconds = time.Since(start).Seconds()
	m, err := scrapeMetrics(f.reader, f.readerToken)
	if err != nil {
		return run, err
	}
	run.N, run.D = n, d
	// Every replication protocol, both directions, at the reader: its
	// requests (version vectors) count as much as the ops it receives.
	run.HealBytes = sumMetric(m, "lienthong_replica_bytes_total", `direction="received"`) +
		sumMetric(m, "lienthong_replica_bytes_total", `direction="sent"`)
	run.Ratio = run.HealBytes / float64(run.Compressed)
	run.PartitionNote = "reader stopped while the writer wrote D ops"
	return run, nil
}

// writeRecs writes recs at n in batches of replBatch.
func writeRecs(ctx context.Context, n *node.Node, recs []benchRecord) error {
	for i := 0; i < len(recs); i += replBatch {
		ws := make([]data.Write, 0, replBatch)
		for _, r := range recs[i:min(i+replBatch, len(recs))] {
			ws = append(ws, data.Write{Dataset: benchDataset, Key: r.key, Mode: data.Put, Fields: r.fields})
		}
		if _, _, err := n.Engine().WriteBatch(ctx, ws, false); err != nil {
			return err
		}
	}
	return nil
}
