package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lienthong/lienthong/sim/gen"
)

func init() {
	register(&command{
		name:  "gen",
		args:  "TYPE",
		short: "generate deterministic synthetic records as JSONL (" + strings.Join(gen.Kinds(), ", ") + "); no node needed",
		run:   runGen,
	})
}

func runGen(ctx context.Context, std *IO, args []string) error {
	var (
		count     int
		seed      uint64
		provinces string
		out       string
	)
	fs := newFlags(std, "gen", "TYPE")
	fs.IntVar(&count, "count", 0, "number of records (required)")
	fs.Uint64Var(&seed, "seed", 1, "seed; the same TYPE, seed and provinces give the same bytes")
	fs.StringVar(&provinces, "provinces", "", "comma-separated province codes the keys are drawn from, e.g. 79,01 (default all)")
	fs.StringVar(&out, "out", "", "write to this file (replaced only once complete) instead of stdout")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if count <= 0 {
		return usagef("give --count N with N > 0")
	}
	var codes []string
	if provinces != "" {
		for _, c := range strings.Split(provinces, ",") {
			codes = append(codes, strings.TrimSpace(c))
		}
	}
	g, err := gen.NewWithProvinces(pos[0], seed, codes)
	switch {
	case errors.Is(err, gen.ErrUnknownKind):
		return usagef("unknown type %q: choose one of %s", pos[0], strings.Join(gen.Kinds(), ", "))
	case errors.Is(err, gen.ErrBadProvinces):
		return usagef("--provinces: %v", err)
	case err != nil:
		return err
	}
	if uint64(count) > g.KeySpace() {
		fmt.Fprintf(std.Err, "warning: %d records but only %d distinct keys; keys will repeat\n", count, g.KeySpace())
	}
	if out == "" {
		return g.WriteJSONL(std.Out, count)
	}
	if err := replaceFile(out, func(w io.Writer) error { return g.WriteJSONL(w, count) }); err != nil {
		return err
	}
	fmt.Fprintf(std.Err, "wrote %d %s records to %s\n", count, pos[0], out)
	return nil
}

// replaceFile writes path through write into a temporary file in the
// same directory and renames it into place once write succeeded, so that a
// failed run leaves no partial file.
func replaceFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
