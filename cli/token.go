package cli

import (
	"context"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/lienthong/lienthong/node/api"
)

func init() {
	register(&command{name: "token create", args: "--name N --role metrics|read|write|admin", short: "make an API token at once, without a restart (shown once; only its hash is kept)", run: runTokenCreate})
	register(&command{name: "token list", args: "", short: "list the node's API tokens (names, roles, hash prefixes)", run: runTokenList})
	register(&command{name: "token revoke", args: "NAME", short: "revoke a token made with token create; it is refused at once", run: runTokenRevoke})
}

func runTokenCreate(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "token create", "--name N --role metrics|read|write|admin")
	cf.register(fs)
	name := fs.String("name", "", "name of the token, e.g. prometheus or hcm-portal (required)")
	role := fs.String("role", "", "metrics, read, write or admin (required)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *name == "" || *role == "" {
		return usagef("--name and --role are required")
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out api.TokenCreated
	if err := c.do(ctx, "POST", "/v1/tokens", api.TokenRequest{Name: *name, Role: *role}, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	fmt.Fprintf(io.Out, "token %s (%s): %s\nIt is shown only this once.\n", out.Name, out.Role, out.Token)
	return nil
}

func runTokenList(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "token list", "", args, 0, 0)
	if err != nil {
		return err
	}
	var out struct {
		Items []api.TokenInfo `json:"items"`
	}
	if err := c.do(ctx, "GET", "/v1/tokens", nil, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSOURCE\tSHA256\tCREATED")
	for _, t := range out.Items {
		created := ""
		if !t.Created.IsZero() {
			created = t.Created.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\n", t.Name, t.Role, t.Source, t.SHA256Prefix, created)
	}
	return tw.Flush()
}

func runTokenRevoke(ctx context.Context, io *IO, args []string) error {
	c, _, pos, err := clientCommand(io, "token revoke", "NAME", args, 1, 1)
	if err != nil {
		return err
	}
	if err := c.do(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(pos[0]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "revoked %s\n", pos[0])
	return nil
}
