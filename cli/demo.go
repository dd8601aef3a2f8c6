package cli

import (
	"context"
	"os"

	"github.com/lienthong/lienthong/cli/demo"
)

func init() {
	register(&command{name: "demo up", args: "--dir D", short: "start a local federation (a seed, two provinces, a ministry) with sample data", run: runDemoUp})
	register(&command{name: "demo stop", args: "--dir D", short: "stop the nodes of a demo federation", run: runDemoStop})
}

func runDemoUp(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "demo up", "--dir D [--api-port P] [--count N]")
	dir := fs.String("dir", "", "directory for the nodes (required; removed and recreated)")
	apiPort := fs.Int("api-port", 7071, "API port of the first node; the others follow (0: every node binds free ports, found in its addresses.json)")
	count := fs.Int("count", 10000, "generated citizens")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return demo.Up(ctx, demo.Options{Bin: self, Dir: *dir, APIPort: *apiPort, Count: *count}, io.Out, io.Err)
}

func runDemoStop(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "demo stop", "--dir D")
	dir := fs.String("dir", "", "directory of the demo (required)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	return demo.Stop(*dir, io.Err)
}
