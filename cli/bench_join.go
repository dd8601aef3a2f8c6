package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
)

func init() {
	register(&command{name: "bench join", args: "[--count N]",
		short: "time and bytes for a new reader to catch up with a dataset of N entities, against the zstd size of the dataset", run: runBenchJoin})
}

// joinRun is one catch-up of a new reader.
type joinRun struct {
	N           int     `json:"n"`
	Bytes       float64 `json:"bytes"`            // replication bytes at the reader, both directions
	Compressed  int     `json:"compressed_bytes"` // the dataset's records as JSON lines, zstd
	Raw         int     `json:"raw_bytes"`
	Ratio       float64 `json:"ratio"`
	Seconds     float64 `json:"seconds"`
	EntitiesPS  float64 `json:"entities_per_s"`
	DatasetNote string  `json:"reference"`
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
	out, err := benchJoin(ctx, std, *count, *runs)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(std.Out, out)
	}
	fmt.Fprintf(std.Out, "a new reader catches up with %d citizens written at the owner (a snapshot past %d ops behind, else ops);\n", *count, 250_000)
	fmt.Fprintf(std.Out, "reference: the dataset's records as JSON lines, zstd-compressed together.\n")
	fmt.Fprintf(std.Out, "%10s %14s %16s %8s %10s %12s\n", "N", "bytes", "zstd dataset", "ratio", "seconds", "entities/s")
	for _, r := range out {
		fmt.Fprintf(std.Out, "%10d %14.0f %16d %8.2f %10.2f %12.0f\n", r.N, r.Bytes, r.Compressed, r.Ratio, r.Seconds, r.EntitiesPS)
	}
	return nil
}

// benchJoin writes count citizens at an owner while its reader is down,
// then starts the reader, empty, and measures its catch-up.
func benchJoin(ctx context.Context, std *IO, count, runs int) ([]joinRun, error) {
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
	var out []joinRun
	for i := 1; i <= runs; i++ {
		fmt.Fprintf(std.Err, "run %d/%d: %d entities to a new reader...\n", i, runs, count)
		dir, err := os.MkdirTemp("", "lienthong-join-")
		if err != nil {
			return nil, err
		}
		h, err := benchHealOnce(ctx, dir, recs, count)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, joinRun{N: count, Bytes: h.HealBytes, Compressed: compressed, Raw: len(raw),
			Ratio: h.HealBytes / float64(compressed), Seconds: h.HealSeconds, EntitiesPS: float64(count) / h.HealSeconds,
			DatasetNote: "records as JSON lines, zstd default level"})
	}
	return out, nil
}
