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
	"strconv"
	"strings"

	"github.com/spf13/cobra"
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
	// flagSet, when set, is told of each flag set a command makes: the
	// completion finds a command's flags by running it with -h.
	flagSet func(*flag.FlagSet)
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
	var ran *command // the registered command that ran, if one did
	root := newRoot(ctx, io, &ran)
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	_, err := root.ExecuteC()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if ran == nil {
		// cobra refused the words: an unknown command, or a flag of a group.
		fmt.Fprintf(io.Err, "lienthong: %v; run lienthong help\n", oneLine(err))
		return ExitUsage
	}
	fmt.Fprintf(io.Err, "lienthong %s: %v\n", ran.name, oneLine(err))
	var ue *usageError
	var ae *APIError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(io.Err, "usage: lienthong %s %s (lienthong %s -h for flags)\n", ran.name, ran.args, ran.name)
		return ExitUsage
	case errors.As(err, &ae) && ae.Status < 500:
		return ExitRejected
	case errors.As(err, &ae), errors.Is(err, errUnreachable):
		return ExitUnreachable
	}
	return ExitFailure
}

const rootLong = `lienthong: a node of a federated data replication network.

Client commands reach a node with --api URL and --token T (or LIENTHONG_API
and LIENTHONG_TOKEN), or --dir D to use a local node's directory.
Add --json for machine-readable output. Run lienthong <command> -h for flags.`

// newRoot builds the cobra tree from the registered commands: each word but
// the last of a name is a group ("meta snapshot" for "meta snapshot save"),
// made once. A registered command parses its own flags (DisableFlagParsing),
// so cobra only finds it, prints the groups' help and completes.
func newRoot(ctx context.Context, std *IO, ran **command) *cobra.Command {
	root := &cobra.Command{
		Use:           "lienthong",
		Short:         "a node of a federated data replication network",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(std.In)
	root.SetOut(std.Out)
	root.SetErr(std.Err)
	groups := map[string]*cobra.Command{"": root}
	var group func(path []string) *cobra.Command
	group = func(path []string) *cobra.Command {
		name := strings.Join(path, " ")
		if g := groups[name]; g != nil {
			return g
		}
		g := &cobra.Command{
			Use:   path[len(path)-1],
			Short: "commands: lienthong " + name + " <command>",
			Args:  cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
				}
				return cmd.Help()
			},
		}
		group(path[:len(path)-1]).AddCommand(g)
		groups[name] = g
		return g
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		words := strings.Fields(n)
		use := words[len(words)-1]
		if c.args != "" {
			use += " " + c.args
		}
		cc := &cobra.Command{
			Use:                use,
			Short:              c.short,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				*ran = c
				return c.run(ctx, std, args)
			},
			ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if !strings.HasPrefix(toComplete, "-") {
					return nil, cobra.ShellCompDirectiveDefault
				}
				return c.flagCompletions(ctx, toComplete), cobra.ShellCompDirectiveNoFileComp
			},
		}
		// help get, like get -h, prints the command's own usage and flags.
		cc.SetHelpFunc(func(*cobra.Command, []string) { _ = c.run(ctx, std, []string{"-h"}) })
		group(words[:len(words)-1]).AddCommand(cc)
	}
	return root
}

// flagCompletions lists the command's flags that start with prefix: it runs
// the command with -h, which returns once its flags are defined and parsed.
func (c *command) flagCompletions(ctx context.Context, prefix string) []cobra.Completion {
	var sets []*flag.FlagSet
	quiet := &IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard,
		flagSet: func(fs *flag.FlagSet) { sets = append(sets, fs) }}
	_ = c.run(ctx, quiet, []string{"-h"})
	var out []cobra.Completion
	for _, fs := range sets {
		fs.VisitAll(func(f *flag.Flag) {
			if name := "--" + f.Name; strings.HasPrefix(name, prefix) {
				out = append(out, cobra.CompletionWithDesc(name, f.Usage))
			}
		})
	}
	return out
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// parseFlags parses args into fs, allowing flags before, between and after
// the positional arguments, and checks the count of positionals. For -h it
// prints fs.Usage once and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	fs.SetOutput(io.Discard)
	printUsage := fs.Usage
	fs.Usage = func() {} // the flag package would call it on every error
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage()
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

// newFlags returns a flag set whose usage prints the command's usage, what
// it does and its flags to io.Out.
func newFlags(io *IO, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(io.Out, "usage: lienthong %s %s\n", name, args)
		if c := commands[name]; c != nil {
			fmt.Fprintf(io.Out, "\n%s\n", c.short)
		}
		fmt.Fprint(io.Out, "\nFlags:\n")
		printFlags(io.Out, fs)
	}
	if io.flagSet != nil {
		io.flagSet(fs)
	}
	return fs
}

// printFlags lists fs's flags as --name, as they are documented.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def := f.DefValue
			if kind == "string" {
				def = strconv.Quote(def)
			}
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
