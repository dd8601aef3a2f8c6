package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "version", args: "[--json]", short: "print the build's version and Go version", run: runVersion})
}

func runVersion(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "version", "[--json]")
	asJSON := fs.Bool("json", false, "print the versions as JSON")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io.Out, map[string]string{"version": node.Version, "go": runtime.Version()})
	}
	_, err := fmt.Fprintf(io.Out, "lienthong %s (%s)\n", node.Version, runtime.Version())
	return err
}
