package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "init", args: "--dir D --name N [--seed]", short: "create a node directory: config, identity key, tokens", run: runInit})
}

func runInit(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "init", "--dir D --name N [--api HOST:PORT] [--listen MULTIADDR,...] [--json]")
	dir := fs.String("dir", "", "node directory to create (required)")
	name := fs.String("name", "", "member name of the node, e.g. hcm or moh (required)")
	apiAddr := fs.String("api", "", "HTTP API host:port (default 127.0.0.1:7070)")
	listen := fs.String("listen", "", "comma-separated libp2p listen multiaddrs (default /ip4/0.0.0.0/tcp/7171,/ip4/0.0.0.0/udp/7171/quic-v1)")
	gossip := fs.String("gossip", "", "gossip host:port (default 0.0.0.0:7946)")
	seed := fs.Bool("seed", false, "a seed node: votes on the federation's metadata (central office)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return helpRequested(fs, err)
	}
	if *dir == "" || *name == "" {
		return usagef("--dir and --name are required")
	}
	role := "member"
	if *seed {
		role = "seed"
	}
	res, err := initNode(*dir, *name, *apiAddr, *listen, *gossip, role)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io.Out, res)
	}
	fmt.Fprintf(io.Out, `Created node %s in %s
peer ID:      %s
API:          %s
admin token:  %s
write token:  %s
read token:   %s
metrics token: %s (reads /metrics only, for Prometheus)

The tokens are shown only this once; the admin token is also kept in %s/%s
for local commands with --dir. Start the node with:
  lienthong start --dir %s
`, res.Name, res.Dir, res.PeerID, res.APIURL, res.AdminToken, res.WriteToken, res.ReadToken, res.MetricsToken, res.Dir, node.AdminTokenFile, res.Dir)
	return nil
}

func initNode(dir, name, apiAddr, listen, gossip, role string) (*node.InitResult, error) {
	cfg := node.DefaultConfig(name)
	cfg.Role = role
	if gossip != "" {
		cfg.Gossip.Listen = gossip
	}
	if apiAddr != "" {
		cfg.API.Listen = apiAddr
	}
	if listen != "" {
		cfg.P2P.Listen = strings.Split(listen, ",")
	}
	return node.Init(dir, cfg)
}
