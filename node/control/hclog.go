package control

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// HCLogger returns an hclog.Logger for Raft that writes to l at the level
// Raft gave each line (it forced every line to debug before), with Raft's
// key-value pairs as attributes and component=name.
func HCLogger(l *slog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: slogWriter{l, name}, JSONFormat: true, Level: hclog.Info})
}

// slogWriter turns hclog's JSON lines into slog records.
type slogWriter struct {
	l    *slog.Logger
	name string
}

func (w slogWriter) Write(p []byte) (int, error) {
	var line map[string]any
	if err := json.Unmarshal(p, &line); err != nil {
		w.l.Info(strings.TrimSpace(string(p)), "component", w.name)
		return len(p), nil
	}
	level := slog.LevelInfo
	switch line["@level"] {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	msg, _ := line["@message"].(string)
	attrs := []slog.Attr{slog.String("component", w.name)}
	for k, v := range line {
		if !strings.HasPrefix(k, "@") {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	w.l.LogAttrs(context.Background(), level, msg, attrs...)
	return len(p), nil
}

var _ io.Writer = slogWriter{}
