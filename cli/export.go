package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/lienthong/lienthong/node/api"
)

func init() {
	register(&command{
		name:  "export",
		args:  "DATASET",
		short: "write a dataset's records as JSONL, the format import reads",
		run:   runExport,
	})
}

// exportPageSize is the number of records export asks for per request.
const exportPageSize = 1000

func runExport(ctx context.Context, std *IO, args []string) error {
	var cf clientFlags
	var out string
	fs := newFlags(std, "export", "DATASET")
	cf.register(fs)
	fs.StringVar(&out, "out", "", "write to this file (replaced only once the export is complete) instead of stdout")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	dataset := pos[0]
	if cf.json && out == "" {
		return usagef("--json prints a summary on stdout, where the records go without --out; give --out FILE too")
	}
	c, err := cf.client(std)
	if err != nil {
		return err
	}
	start := time.Now()
	var n int
	if out == "" {
		n, err = exportTo(ctx, c, dataset, std.Out)
	} else {
		err = replaceFile(out, func(w io.Writer) error {
			var err error
			n, err = exportTo(ctx, c, dataset, w)
			return err
		})
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(std.Err, "exported %d records of %s in %s\n", n, dataset, shortDuration(el))
	if cf.json {
		return printJSON(std.Out, map[string]any{"dataset": dataset, "exported": n, "seconds": el.Seconds(), "out": out})
	}
	return nil
}

// exportTo pages through the dataset's records and writes them to w as
// JSONL {"key":...,"fields":{...}} lines, in key order. It returns how many
// it wrote.
func exportTo(ctx context.Context, c *Client, dataset string, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	base := "/v1/datasets/" + url.PathEscape(dataset) + "/entities?limit=" + fmt.Sprint(exportPageSize)
	n, after := 0, ""
	for {
		path := base
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page api.Page[api.BatchRecord]
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return n, fmt.Errorf("export %s after %d records: %w", dataset, n, err)
		}
		for i := range page.Items {
			if err := enc.Encode(&page.Items[i]); err != nil {
				return n, err
			}
		}
		n += len(page.Items)
		if page.Next == "" {
			break
		}
		if page.Next == after {
			return n, fmt.Errorf("export %s: the node returned the same page twice (next=%q)", dataset, after)
		}
		after = page.Next
	}
	return n, bw.Flush()
}
