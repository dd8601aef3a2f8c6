package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "init", args: "--dir D --name N [--seed]", short: "create a node directory: config, identity key, tokens", run: runInit})
}

func runInit(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "init", "--dir D --name N [--listen-api HOST:PORT] [--listen MULTIADDR,...] [--json]")
	dir := fs.String("dir", "", "node directory to create (required)")
	name := fs.String("name", "", "member name of the node, e.g. hcm or moh (required)")
	apiAddr := listenAPIFlag(io, fs, "", "HTTP API host:port (default 127.0.0.1:7070)")
	listen := fs.String("listen", "", "comma-separated libp2p listen multiaddrs (default /ip4/0.0.0.0/tcp/7171,/ip4/0.0.0.0/udp/7171/quic-v1)")
	gossip := fs.String("gossip", "", "gossip host:port (default: the first TCP --listen address's host at its port + 100, so that nodes on one host do not collide; else 0.0.0.0:7946)")
	withTLS := fs.Bool("tls", false, "serve the API over HTTPS with a new self-signed certificate (tls.crt, tls.key in --dir; clients: --ca-cert DIR/tls.crt)")
	seed := fs.Bool("seed", false, "a seed node: votes on the federation's metadata (central office)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" || *name == "" {
		return usagef("--dir and --name are required")
	}
	role := "member"
	if *seed {
		role = "seed"
	}
	res, err := initNode(*dir, *name, apiAddr(), *listen, *gossip, role, *withTLS)
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

func initNode(dir, name, apiAddr, listen, gossip, role string, withTLS bool) (*node.InitResult, error) {
	cfg := node.DefaultConfig(name)
	cfg.Role = role
	if apiAddr != "" {
		cfg.API.Listen = apiAddr
	}
	if withTLS {
		if _, err := os.Stat(filepath.Join(dir, node.ConfigFile)); err == nil {
			return nil, fmt.Errorf("%w: %s already holds a node; use another --dir or remove it", node.ErrConfig, dir)
		}
		host, _, _ := net.SplitHostPort(cfg.API.Listen)
		if err := node.WriteSelfSignedCert(dir, name, []string{host}); err != nil {
			return nil, fmt.Errorf("write a self-signed certificate: %w", err)
		}
		cfg.API.TLSCertFile, cfg.API.TLSKeyFile = node.TLSCertFile, node.TLSKeyFile
	}
	if listen != "" {
		cfg.P2P.Listen = strings.Split(listen, ",")
		if gossip == "" {
			gossip = gossipBeside(cfg.P2P.Listen)
		}
	}
	if gossip != "" {
		cfg.Gossip.Listen = gossip
	}
	return node.Init(dir, cfg)
}

// gossipBeside is the gossip address for a node listening on listen: the
// host of its first TCP address, at that port + 100 (port 0 stays 0). Three
// seeds initialised on one host with their own --listen ports took the same
// default gossip port and never all came up. Empty if no address is TCP.
func gossipBeside(listen []string) string {
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		ip, err := a.ValueForProtocol(ma.P_IP4)
		if err != nil {
			if ip, err = a.ValueForProtocol(ma.P_IP6); err != nil {
				continue
			}
		}
		p, err := a.ValueForProtocol(ma.P_TCP)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(p)
		if err != nil || port+100 > 65535 {
			continue
		}
		if port != 0 {
			port += 100
		}
		return net.JoinHostPort(ip, strconv.Itoa(port))
	}
	return ""
}

// listenAPIFlag defines --listen-api, the host:port the node's API listens
// on, and --api, its deprecated old name (a client's --api is a URL). The
// returned function gives the value after parsing, warning on --api.
func listenAPIFlag(io *IO, fs *flag.FlagSet, def, usage string) func() string {
	listen := fs.String("listen-api", def, usage)
	old := fs.String("api", "", "deprecated: use --listen-api")
	return func() string {
		if *old == "" {
			return *listen
		}
		fmt.Fprintf(io.Err, "lienthong %s: --api is deprecated here, use --listen-api (a client's --api is the API's URL)\n", fs.Name())
		return *old
	}
}
