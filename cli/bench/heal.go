package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/data"
)

// HealRun is one heal of bench heal.
type HealRun struct {
	N, D          int
	HealBytes     float64 `json:"heal_bytes"`
	Compressed    int     `json:"compressed_diverged_bytes"`
	Raw           int     `json:"raw_diverged_bytes"`
	Ratio         float64 `json:"ratio"`
	HealSeconds   float64 `json:"heal_seconds"`
	PartitionNote string  `json:"partition"`
}

// HealRuns are what bench heal measured, one per D (its --json output).
type HealRuns []HealRun

// Heal measures, for each d of diverged, what a reader stopped while d of
// count ops were written receives to catch up once restarted; its progress
// goes to progress. Every d must be between 1 and count-1.
func Heal(ctx context.Context, count int, diverged []int, progress io.Writer) (HealRuns, error) {
	recs, err := benchRecords(count)
	if err != nil {
		return nil, err
	}
	var runs HealRuns
	for _, d := range diverged {
		fmt.Fprintf(progress, "N=%d, D=%d...\n", count, d)
		dir, err := os.MkdirTemp("", "lienthong-heal-")
		if err != nil {
			return nil, err
		}
		run, err := benchHealOnce(ctx, dir, recs, d)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// Print writes the runs as bench heal's table.
func (runs HealRuns) Print(w io.Writer) error {
	fmt.Fprintf(w, "healing after a partition: the reader is stopped, the writer writes D of N ops, the reader restarts and pulls.\n")
	fmt.Fprintf(w, "%10s %10s %14s %22s %8s %10s\n", "N", "D", "heal bytes", "zstd of the D ops", "ratio", "heal s")
	for _, r := range runs {
		fmt.Fprintf(w, "%10d %10d %14.0f %22d %8.2f %10.2f\n", r.N, r.D, r.HealBytes, r.Compressed, r.Ratio, r.HealSeconds)
	}
	return nil
}

// benchHealOnce writes N-D ops with the reader up, D with it stopped, and
// measures what the reader receives to catch up once restarted.
func benchHealOnce(ctx context.Context, dir string, recs []benchRecord, d int) (run HealRun, err error) {
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
