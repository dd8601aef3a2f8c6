package cli

import (
	"context"
	"log/slog"

	"github.com/lienthong/lienthong/node"
)

func init() {
	register(&command{name: "start", args: "--dir D", short: "run the node in directory D until interrupted", run: runStart})
}

func runStart(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "start", "--dir D [--log-level debug|info|warn|error]")
	dir := fs.String("dir", "", "node directory (required)")
	level := fs.String("log-level", "info", "log level")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return helpRequested(fs, err)
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	logger, err := newLogger(io, *level)
	if err != nil {
		return err
	}
	cfg, err := node.LoadConfig(*dir)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, logger, nil)
}

func newLogger(io *IO, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(io.Err, &slog.HandlerOptions{Level: l})), nil
}

// serve runs a node until ctx ends; ready, if not nil, runs once the API
// listens.
func serve(ctx context.Context, cfg node.Config, logger *slog.Logger, ready func(*node.Node) error) error {
	n, err := node.New(cfg, node.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer n.Close()
	l, err := n.Listen()
	if err != nil {
		return err
	}
	if ready != nil {
		if err := ready(n); err != nil {
			l.Close()
			return err
		}
	}
	err = n.Serve(ctx, l)
	logger.Info("node stopped", "name", cfg.Name)
	return err
}
