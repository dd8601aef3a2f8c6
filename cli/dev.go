package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/meta"
)

func init() {
	register(&command{name: "dev", args: "[--dir D]", short: "run a throwaway single-node federation with the sample dictionary", run: runDev})
}

func runDev(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "dev", "[--dir D] [--name N] [--listen-api HOST:PORT] [--json]")
	dir := fs.String("dir", "", "node directory; created if missing (default: a temporary directory, removed on exit)")
	name := fs.String("name", "dev", "member name of the node")
	apiAddr := listenAPIFlag(io, fs, "127.0.0.1:7070", "HTTP API host:port (port 0 picks a free one)")
	asJSON := fs.Bool("json", false, "print the node's details as one JSON line first")
	level := fs.String("log-level", "warn", "log level")
	format := fs.String("log-format", "text", "log format: text or json")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	logger, err := newLogger(io, *level, *format)
	if err != nil {
		return err
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "lienthong-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = filepath.Join(tmp, "node")
	}
	var res *node.InitResult
	if _, err := os.Stat(filepath.Join(*dir, node.ConfigFile)); err != nil {
		if res, err = initNode(*dir, *name, apiAddr(), "", "", "seed", false); err != nil {
			return err
		}
	}
	cfg, err := node.LoadConfig(*dir)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, node.Options{Logger: logger}, func(n *node.Node, api string) error {
		if err := loadSamples(ctx, n, cfg.Name); err != nil {
			return fmt.Errorf("load the sample dictionary: %w", err)
		}
		if res == nil { // an existing directory: tokens were shown at its creation
			res = &node.InitResult{Name: cfg.Name, Dir: *dir, PeerID: n.PeerID()}
			if b, err := os.ReadFile(filepath.Join(*dir, node.AdminTokenFile)); err == nil {
				res.AdminToken = strings.TrimSpace(string(b))
			}
		}
		res.APIURL = "http://" + api // the bound port, also for port 0
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintf(io.Out, "%s\n", b)
			return nil
		}
		fmt.Fprintf(io.Out, `lienthong dev node %q is running with the sample dictionary.
API:          %s
admin token:  %s
write token:  %s
read token:   %s
directory:    %s

Try:
  export LIENTHONG_API=%s LIENTHONG_TOKEN=%s
  lienthong schema list
  lienthong gen citizen --count 1000 | lienthong import population.identity - --drop-other-fields
  lienthong changes --follow
Stop with Ctrl-C.
`, cfg.Name, res.APIURL, res.AdminToken, res.WriteToken, res.ReadToken, *dir, res.APIURL, res.AdminToken)
		return nil
	})
}

// loadSamples puts the sample dictionary and creates its datasets with this
// node as their owner: a single-node federation has no other member.
func loadSamples(ctx context.Context, n *node.Node, self string) error {
	types, err := examples.EntityTypes()
	if err != nil {
		return err
	}
	for _, t := range types {
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutType, Type: t}); err != nil {
			return err
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		return err
	}
	for _, d := range dss {
		d.Owner, d.Readers = self, nil
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutDataset, Dataset: d}); err != nil {
			return err
		}
	}
	return nil
}
