package bench

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// JoinRun is one catch-up of a new reader.
type JoinRun struct {
	N           int     `json:"n"`
	Bytes       float64 `json:"bytes"`            // replication bytes at the reader, both directions
	Compressed  int     `json:"compressed_bytes"` // the dataset's records as JSON lines, zstd
	Raw         int     `json:"raw_bytes"`
	Ratio       float64 `json:"ratio"`
	Seconds     float64 `json:"seconds"`
	EntitiesPS  float64 `json:"entities_per_s"`
	DatasetNote string  `json:"reference"`
}

// JoinRuns are what bench join measured, one per run (its --json output).
type JoinRuns []JoinRun

// Print writes the runs as bench join's table.
func (out JoinRuns) Print(w io.Writer) error {
	if len(out) == 0 {
		return nil
	}
	fmt.Fprintf(w, "a new reader catches up with %d citizens written at the owner (a snapshot past %d ops behind, else ops);\n", out[0].N, 250_000)
	fmt.Fprintf(w, "reference: the dataset's records as JSON lines, zstd-compressed together.\n")
	fmt.Fprintf(w, "%10s %14s %16s %8s %10s %12s\n", "N", "bytes", "zstd dataset", "ratio", "seconds", "entities/s")
	for _, r := range out {
		fmt.Fprintf(w, "%10d %14.0f %16d %8.2f %10.2f %12.0f\n", r.N, r.Bytes, r.Compressed, r.Ratio, r.Seconds, r.EntitiesPS)
	}
	return nil
}

// Join writes count citizens at an owner while its reader is down, then
// starts the reader, empty, and measures its catch-up, runs times; its
// progress goes to progress.
func Join(ctx context.Context, count, runs int, progress io.Writer) (JoinRuns, error) {
	recs, err := benchRecords(count)
	if err != nil {
		return nil, err
	}
	var raw []byte
	for _, r := range recs {
		raw = append(append(raw, r.value...), '\n')
	}
	enc, _ := zstd.NewWriter(nil)
	compressed := len(enc.EncodeAll(raw, nil))
	var out JoinRuns
	for i := 1; i <= runs; i++ {
		fmt.Fprintf(progress, "run %d/%d: %d entities to a new reader...\n", i, runs, count)
		dir, err := os.MkdirTemp("", "lienthong-join-")
		if err != nil {
			return nil, err
		}
		h, err := benchHealOnce(ctx, dir, recs, count)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, JoinRun{N: count, Bytes: h.HealBytes, Compressed: compressed, Raw: len(raw),
			Ratio: h.HealBytes / float64(compressed), Seconds: h.HealSeconds, EntitiesPS: float64(count) / h.HealSeconds,
			DatasetNote: "records as JSON lines, zstd default level"})
	}
	return out, nil
}
