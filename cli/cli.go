package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitRejected    = 3
	ExitUnreachable = 4
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Env looks up environment variables; nil means os.Getenv.
	Env func(string) string
}

func (o *IO) getenv(k string) string {
	if o.Env == nil {
		return os.Getenv(k)
	}
	return o.Env(k)
}

// command is one CLI command.
type command struct {
	name  string // "schema put", "get"
	args  string // positional arguments, for usage
	short string
	run   func(ctx context.Context, io *IO, args []string) error
}

// commands lists every command; each file adds its own in init.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError is a bad invocation: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Main runs the command named by args and returns its exit code.
func Main(ctx context.Context, args []string, io *IO) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(io.Out)
		return ExitOK
	}
	cmd, rest := commands[args[0]], args[1:]
	if len(args) > 1 {
		if c := commands[args[0]+" "+args[1]]; c != nil {
			cmd, rest = c, args[2:]
		}
	}
	if cmd == nil {
		fmt.Fprintf(io.Err, "lienthong: unknown command %q; run lienthong help\n", strings.Join(args[:min(2, len(args))], " "))
		return ExitUsage
	}
	err := cmd.run(ctx, io, rest)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(io.Err, "lienthong %s: %v\n", cmd.name, oneLine(err))
	var ue *usageError
	var ae *APIError
	switch {
	case errors.As(err, &ue) || errors.Is(err, flag.ErrHelp):
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(io.Err, "usage: lienthong %s %s (lienthong %s -h for flags)\n", cmd.name, cmd.args, cmd.name)
		return ExitUsage
	case errors.As(err, &ae) && ae.Status < 500:
		return ExitRejected
	case errors.As(err, &ae), errors.Is(err, errUnreachable):
		return ExitUnreachable
	}
	return ExitFailure
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func usage(w io.Writer) {
	fmt.Fprint(w, `lienthong: a node of a federated data replication network.

Usage: lienthong <command> [arguments] [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(w, "  %-40s %s\n", n+" "+c.args, c.short)
	}
	fmt.Fprint(w, `
Client commands reach a node with --api URL and --token T (or LIENTHONG_API
and LIENTHONG_TOKEN), or --dir D to use a local node's directory.
Add --json for machine-readable output. Run lienthong <command> -h for flags.
`)
}

// flags parses args into fs, allowing flags before, between and after the
// positional arguments, and checks the count of positionals.
func parseFlags(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		return nil, usagef("wrong number of arguments")
	}
	return pos, nil
}

// newFlags returns a flag set whose -h prints the command's flags to io.Err.
func newFlags(io *IO, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(io.Err, "usage: lienthong %s %s\n", name, args)
		fs.SetOutput(io.Err)
		fs.PrintDefaults()
	}
	return fs
}

// helpRequested prints usage for -h.
func helpRequested(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	return err
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
