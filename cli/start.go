package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "start", args: "--dir D [--bootstrap | --join MULTIADDR]", short: "run the node in directory D until interrupted", run: runStart})
}

func runStart(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "start", "--dir D [--log-level debug|info|warn|error] [--log-format text|json]")
	dir := fs.String("dir", "", "node directory (required)")
	level := fs.String("log-level", "info", "log level")
	format := fs.String("log-format", "text", "log format: text (key=value) or json (one object a line)")
	bootstrap := fs.Bool("bootstrap", false, "create a new federation with this seed as its first member (once, on the first seed)")
	join := fs.String("join", "", "comma-separated multiaddrs of seeds to join through, each ending in /p2p/PEER_ID")
	fast := fs.Bool("fast-timers", false, "short Raft and gossip timings, for tests on one machine")
	recoverSeeds := fs.String("recover-seeds", "", "comma-separated names of the surviving seeds, this one included, that make up the metadata Raft group from this start on: only after most seeds are lost for good, on each survivor once (docs/operations.md, Quorum loss)")
	block := fs.String("block-peers", "", "comma-separated peer IDs to refuse even if admitted (a test hook that cuts links)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	logger, err := newLogger(io, *level, *format)
	if err != nil {
		return err
	}
	cfg, err := node.LoadConfig(*dir)
	if err != nil {
		return err
	}
	opts := node.Options{Logger: logger, Bootstrap: *bootstrap, FastTimers: *fast}
	if *join != "" {
		opts.Join = strings.Split(*join, ",")
	}
	if *block != "" {
		opts.BlockPeers = strings.Split(*block, ",")
	}
	if *recoverSeeds != "" {
		if cfg.Role != "seed" {
			return usagef("--recover-seeds is for a seed (this node is a %s)", cfg.Role)
		}
		opts.RecoverSeeds = strings.Split(*recoverSeeds, ",")
	}
	if *bootstrap && cfg.Role != "seed" {
		return usagef("--bootstrap needs a seed node (lienthong init --seed)")
	}
	return serve(ctx, cfg, opts, nil)
}

// newLogger is the logger of a running node, on stderr.
func newLogger(io *IO, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(io.Err, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(io.Err, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

// serve runs a node until ctx ends; ready, if not nil, runs once the API
// is bound (at api, its host:port), before it serves.
func serve(ctx context.Context, cfg node.Config, opts node.Options, ready func(n *node.Node, api string) error) error {
	logger := opts.Logger
	// The directory, then the API: another node on this directory, or a
	// taken port, stops the node before it opens anything.
	lock, err := node.LockDir(cfg.Dir)
	if err != nil {
		return err
	}
	l, err := node.ListenAPI(cfg)
	if err != nil {
		lock.Close()
		return err
	}
	opts.Lock = lock
	n, err := openNode(ctx, cfg, opts)
	if err != nil {
		l.Close()
		return err
	}
	defer n.Close()
	if ready != nil {
		if err := ready(n, l.Addr().String()); err != nil {
			l.Close()
			return err
		}
	}
	err = n.Serve(ctx, l)
	logger.Info("node stopped", "name", cfg.Name)
	return err
}

// openNode is node.New, given up when ctx ends first (SIGTERM while the
// store replays a long WAL, or is stuck on a failing disk): the node, if it
// opens later, is closed.
func openNode(ctx context.Context, cfg node.Config, opts node.Options) (*node.Node, error) {
	type opened struct {
		n   *node.Node
		err error
	}
	done := make(chan opened, 1)
	go func() {
		n, err := node.New(cfg, opts)
		done <- opened{n, err}
	}()
	select {
	case o := <-done:
		return o.n, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.n != nil {
				o.n.Close()
			}
		}()
		return nil, fmt.Errorf("interrupted while opening the node in %s: %w", cfg.Dir, context.Cause(ctx))
	}
}
