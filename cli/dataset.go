package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/lienthong/lienthong/node/dict"
)

func init() {
	register(&command{name: "dataset create", args: "[FILE] | --name N --type T --fields a,b --owner O", short: "create a dataset from a JSON file or flags", run: runDatasetCreate})
	register(&command{name: "dataset get", args: "NAME", short: "print a dataset", run: runDatasetGet})
	register(&command{name: "dataset list", args: "", short: "list datasets", run: runDatasetList})
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func runDatasetCreate(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "dataset create", "[FILE] | --name N --type T --fields a,b --owner O [--prefix P] [--readers r1,r2]")
	cf.register(fs)
	var d dict.Dataset
	var fields, readers string
	fs.StringVar(&d.Name, "name", "", "dataset name, e.g. population.identity")
	fs.StringVar(&d.EntityType, "type", "", "entity type")
	fs.StringVar(&fields, "fields", "", "comma-separated fields the dataset covers")
	fs.StringVar(&d.KeyPrefix, "prefix", "", "key prefix: only keys starting with it belong to the dataset")
	fs.StringVar(&d.Owner, "owner", "", "owning member")
	fs.StringVar(&readers, "readers", "", "comma-separated reading members")
	pos, err := parseFlags(fs, args, 0, 1)
	if err != nil {
		return err
	}
	var body []byte
	if len(pos) == 1 {
		if d.Name != "" || d.EntityType != "" || fields != "" {
			return usagef("give a FILE or flags, not both")
		}
		if body, err = readInput(io, pos[0]); err != nil {
			return err
		}
		p, err := dict.ParseDataset(body)
		if err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		d = *p
	} else {
		if d.Name == "" || d.EntityType == "" || fields == "" || d.Owner == "" {
			return usagef("--name, --type, --fields and --owner are required without a FILE")
		}
		d.Fields, d.Readers = splitList(fields), splitList(readers)
		body, _ = json.Marshal(d)
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out struct {
		Dataset   *dict.Dataset `json:"dataset"`
		MetaIndex uint64        `json:"meta_index"`
	}
	if err := c.do(ctx, "PUT", "/v1/datasets/"+url.PathEscape(d.Name), body, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	fmt.Fprintf(io.Out, "dataset %s (%s, owner %s, epoch %d) stored at metadata index %d\n",
		out.Dataset.Name, out.Dataset.EntityType, out.Dataset.Owner, out.Dataset.OwnerEpoch, out.MetaIndex)
	return nil
}

func runDatasetGet(ctx context.Context, io *IO, args []string) error {
	c, _, pos, err := clientCommand(io, "dataset get", "NAME", args, 1, 1)
	if err != nil {
		return err
	}
	var d json.RawMessage
	if err := c.do(ctx, "GET", "/v1/datasets/"+url.PathEscape(pos[0]), nil, &d); err != nil {
		return err
	}
	return printJSON(io.Out, d)
}

func runDatasetList(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "dataset list", "", args, 0, 0)
	if err != nil {
		return err
	}
	var out struct {
		Items     []*dict.Dataset `json:"items"`
		MetaIndex uint64          `json:"meta_index"`
	}
	if err := c.do(ctx, "GET", "/v1/datasets", nil, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tTYPE\tPREFIX\tOWNER\tEPOCH\tREADERS\tFIELDS")
	for _, d := range out.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Name, d.EntityType, d.KeyPrefix, d.Owner, d.OwnerEpoch,
			strings.Join(d.Readers, ","), strings.Join(d.Fields, ","))
	}
	return tw.Flush()
}
