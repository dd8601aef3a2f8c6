package member

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newStdLogger adapts logger to the *log.Logger memberlist wants. memberlist
// prefixes each line with its level ("[DEBUG] memberlist: ..."); the prefix
// is mapped to the slog level, so its per-connection chatter stays at debug
// while failures and refutations surface as info and warnings.
func newStdLogger(logger *slog.Logger) *log.Logger {
	return log.New(&levelWriter{log: logger.With("component", "memberlist")}, "", 0)
}

type levelWriter struct{ log *slog.Logger }

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG]"), slog.LevelDebug},
	{[]byte("[INFO]"), slog.LevelInfo},
	{[]byte("[WARN]"), slog.LevelWarn},
	{[]byte("[ERR]"), slog.LevelError},
	{[]byte("[ERROR]"), slog.LevelError},
}

// Write logs one line. It never fails: logging must not break gossip.
func (w *levelWriter) Write(p []byte) (int, error) {
	n := len(p)
	line := bytes.TrimSpace(p)
	level := slog.LevelDebug // unprefixed lines are chatter too
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(line, lp.prefix) {
			level = lp.level
			line = bytes.TrimSpace(line[len(lp.prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	ctx := context.Background()
	if w.log.Enabled(ctx, level) {
		w.log.Log(ctx, level, string(line))
	}
	return n, nil
}
