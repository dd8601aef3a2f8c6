package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	stdio "io"
	"net/url"
	"sort"
	"strings"
)

func init() {
	register(&command{name: "put", args: "DATASET KEY JSON|@FILE|-", short: "write an entity's fields in a dataset (fields left out are cleared)", run: runWrite("put", "PUT")})
	register(&command{name: "patch", args: "DATASET KEY JSON|@FILE|-", short: "change some fields: sets take {\"add\":[..],\"remove\":[..]}, counters {\"increment\":n}", run: runWrite("patch", "PATCH")})
	register(&command{name: "delete", args: "DATASET KEY", short: "delete an entity from a dataset", run: runDelete})
	register(&command{name: "get", args: "TYPE KEY", short: "print an entity merged from every dataset this node holds", run: runGet})
}

func readAll(r stdio.Reader) ([]byte, error) {
	if r == nil {
		return nil, usagef("no standard input")
	}
	return stdio.ReadAll(r)
}

func entityPath(dataset, key string) string {
	return "/v1/datasets/" + url.PathEscape(dataset) + "/entities/" + url.PathEscape(key)
}

func runWrite(name, method string) func(context.Context, *IO, []string) error {
	return func(ctx context.Context, io *IO, args []string) error {
		var cf clientFlags
		fs := newFlags(io, name, "DATASET KEY JSON|@FILE|-")
		cf.register(fs)
		pos, err := parseFlags(fs, args, 3, 3)
		if err != nil {
			return err
		}
		body := []byte(pos[2])
		switch {
		case pos[2] == "-":
			body, err = readAll(io.In)
		case strings.HasPrefix(pos[2], "@"):
			body, err = readInput(io, pos[2][1:])
		}
		if err != nil {
			return err
		}
		if !json.Valid(body) {
			return usagef("the fields are not valid JSON: %.80q", body)
		}
		c, err := cf.client(io)
		if err != nil {
			return err
		}
		var res map[string]any
		if err := c.do(ctx, method, entityPath(pos[0], pos[1]), body, &res); err != nil {
			return err
		}
		if cf.json {
			return printJSON(io.Out, res)
		}
		fmt.Fprintf(io.Out, "%s %s: %s/%s seq %v\n", pos[0], pos[1], res["dataset"], res["origin"], res["seq"])
		return nil
	}
}

func runDelete(ctx context.Context, io *IO, args []string) error {
	c, cf, pos, err := clientCommand(io, "delete", "DATASET KEY", args, 2, 2)
	if err != nil {
		return err
	}
	var res map[string]any
	if err := c.do(ctx, "DELETE", entityPath(pos[0], pos[1]), nil, &res); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, res)
	}
	fmt.Fprintf(io.Out, "deleted %s from %s (seq %v)\n", pos[1], pos[0], res["seq"])
	return nil
}

func runGet(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "get", "TYPE KEY [--provenance]")
	cf.register(fs)
	prov := fs.Bool("provenance", false, "show where each field came from")
	pos, err := parseFlags(fs, args, 2, 2)
	if err != nil {
		return err
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	path := "/v1/entities/" + url.PathEscape(pos[0]) + "/" + url.PathEscape(pos[1])
	if *prov {
		path += "?provenance=true"
	}
	var ent struct {
		Type       string                     `json:"type"`
		Key        string                     `json:"key"`
		Fields     map[string]json.RawMessage `json:"fields"`
		Datasets   []string                   `json:"datasets"`
		Provenance map[string]map[string]any  `json:"provenance,omitempty"`
	}
	if err := c.do(ctx, "GET", path, nil, &ent); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, ent)
	}
	fmt.Fprintf(io.Out, "%s %s (datasets: %s)\n", ent.Type, ent.Key, strings.Join(ent.Datasets, ", "))
	names := make([]string, 0, len(ent.Fields))
	for n := range ent.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var v bytes.Buffer
		json.Compact(&v, ent.Fields[n])
		fmt.Fprintf(io.Out, "  %-20s %s", n, v.String())
		if p, ok := ent.Provenance[n]; ok && p["origin"] != nil {
			fmt.Fprintf(io.Out, "   [%v by %v, epoch %v, %v]", p["dataset"], p["origin"], p["epoch"], p["time"])
		} else if ok {
			fmt.Fprintf(io.Out, "   [%v]", p["dataset"])
		}
		fmt.Fprintln(io.Out)
	}
	return nil
}
