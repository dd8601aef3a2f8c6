package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "verify", args: "[--peer NAME] [--dataset D]", short: "compare dataset digests with peers; exit 1 when replicas differ", run: runVerify})
}

var errDiverged = errors.New("replicas differ")

func runVerify(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "verify", "[--peer NAME] [--dataset D]")
	cf.register(fs)
	peer := fs.String("peer", "", "compare with this member only (default: every connected member)")
	dataset := fs.String("dataset", "", "compare this dataset only (default: every dataset both read)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out struct {
		Items []node.VerifyResult `json:"items"`
	}
	q := url.Values{}
	if *peer != "" {
		q.Set("peer", *peer)
	}
	if *dataset != "" {
		q.Set("dataset", *dataset)
	}
	if err := c.do(ctx, "GET", "/v1/verify?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	bad := 0
	for _, r := range out.Items {
		if len(r.Differ) > 0 || r.Error != "" {
			bad++
		}
	}
	if cf.json {
		printJSON(io.Out, out.Items)
	} else {
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DATASET\tPEER\tENTITIES HERE\tRESULT")
		for _, r := range out.Items {
			res := "same"
			switch {
			case r.Error != "":
				res = "error: " + r.Error
			case len(r.Differ) > 0:
				res = fmt.Sprintf("%d key ranges differ: %s", len(r.Differ), ranges(r.Differ))
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Dataset, r.Peer, r.Entities, res)
		}
		tw.Flush()
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d comparisons", errDiverged, bad, len(out.Items))
	}
	return nil
}

// ranges names digest buckets as key-hash ranges, e.g. 00-03 (first byte of SHA-256(key)).
func ranges(buckets []int) string {
	var parts []string
	for i := 0; i < len(buckets); {
		j := i
		for j+1 < len(buckets) && buckets[j+1] == buckets[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprintf("%02x", buckets[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%02x-%02x", buckets[i], buckets[j]))
		}
		i = j + 1
	}
	if len(parts) > 8 {
		parts = append(parts[:8], "…")
	}
	return "sha256(key)[0] in " + strings.Join(parts, ",")
}
