package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	stdio "io"
	"net/http"
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

// ifMatchFlag registers --if-match on fs: the If-Match of a write.
func ifMatchFlag(fs *flag.FlagSet) *string {
	return fs.String("if-match", "", "write only if the entity's ETag (lienthong get shows it) is still this, else exit 3 (precondition_failed): read it again and retry; * writes only if the entity exists")
}

// ifMatchHeader is the If-Match header of --if-match: an ETag as get
// prints it, quoted or not, or *.
func ifMatchHeader(v string) http.Header {
	h := http.Header{}
	switch {
	case v == "":
	case v == "*" || strings.HasPrefix(v, `"`) || strings.HasPrefix(v, `W/"`):
		h.Set("If-Match", v)
	default:
		h.Set("If-Match", `"`+v+`"`)
	}
	return h
}

// withETag adds the answer's ETag to a write's JSON answer, as "etag".
func withETag(res map[string]any, h http.Header) map[string]any {
	if tag := h.Get("ETag"); tag != "" {
		res["etag"] = tag
	}
	return res
}

func runWrite(name, method string) func(context.Context, *IO, []string) error {
	return func(ctx context.Context, io *IO, args []string) error {
		var cf clientFlags
		fs := newFlags(io, name, "DATASET KEY JSON|@FILE|- [--if-match ETAG]")
		cf.register(fs)
		ifMatch := ifMatchFlag(fs)
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
		h, err := c.doWith(ctx, method, entityPath(pos[0], pos[1]), ifMatchHeader(*ifMatch), body, &res)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(io.Out, withETag(res, h))
		}
		fmt.Fprintf(io.Out, "%s %s: %s/%s seq %v etag %s\n", pos[0], pos[1], res["dataset"], res["origin"], res["seq"], h.Get("ETag"))
		return nil
	}
}

func runDelete(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "delete", "DATASET KEY [--if-match ETAG]")
	cf.register(fs)
	ifMatch := ifMatchFlag(fs)
	pos, err := parseFlags(fs, args, 2, 2)
	if err != nil {
		return err
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var res map[string]any
	h, err := c.doWith(ctx, "DELETE", entityPath(pos[0], pos[1]), ifMatchHeader(*ifMatch), nil, &res)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, withETag(res, h))
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
		ETag       string                     `json:"etag,omitempty"` // from the ETag header
	}
	h, err := c.doWith(ctx, "GET", path, nil, nil, &ent)
	if err != nil {
		return err
	}
	ent.ETag = h.Get("ETag")
	if cf.json {
		return printJSON(io.Out, ent)
	}
	fmt.Fprintf(io.Out, "%s %s (datasets: %s) etag %s\n", ent.Type, ent.Key, strings.Join(ent.Datasets, ", "), ent.ETag)
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
