package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/lienthong/lienthong/node/dict"
)

func init() {
	register(&command{name: "schema put", args: "FILE", short: "add or update an entity type from a JSON file (- for stdin)", run: runSchemaPut})
	register(&command{name: "schema get", args: "TYPE", short: "print an entity type", run: runSchemaGet})
	register(&command{name: "schema list", args: "", short: "list entity types", run: runSchemaList})
}

// readInput reads a file argument; "-" is stdin.
func readInput(io *IO, name string) ([]byte, error) {
	if name == "-" {
		b, err := readAll(io.In)
		return b, err
	}
	return os.ReadFile(name)
}

func runSchemaPut(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "schema put", "FILE")
	cf.register(fs)
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	b, err := readInput(io, pos[0])
	if err != nil {
		return err
	}
	t, err := dict.ParseEntityType(b) // fail early, with the local file's name
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := c.do(ctx, "PUT", "/v1/schemas/"+url.PathEscape(t.Name), b, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	fmt.Fprintf(io.Out, "entity type %s version %d stored at metadata index %v\n", t.Name, t.Version, out["meta_index"])
	return nil
}

func runSchemaGet(ctx context.Context, io *IO, args []string) error {
	c, _, pos, err := clientCommand(io, "schema get", "TYPE", args, 1, 1)
	if err != nil {
		return err
	}
	var t json.RawMessage
	if err := c.do(ctx, "GET", "/v1/schemas/"+url.PathEscape(pos[0]), nil, &t); err != nil {
		return err
	}
	return printJSON(io.Out, t)
}

func runSchemaList(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "schema list", "", args, 0, 0)
	if err != nil {
		return err
	}
	var out struct {
		Items     []*dict.EntityType `json:"items"`
		MetaIndex uint64             `json:"meta_index"`
	}
	if err := c.do(ctx, "GET", "/v1/schemas", nil, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tVERSION\tKEY\tFIELDS")
	for _, t := range out.Items {
		names := make([]string, 0, len(t.Fields))
		for n := range t.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", t.Name, t.Version, t.Key.Pattern, strings.Join(names, ","))
	}
	return tw.Flush()
}
