package control

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestHCLoggerLevels: Raft's lines reach slog at their own level with their
// attributes (they were all forced to debug, so a lost leader never showed
// at the default level).
func TestHCLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := HCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "raft")
	l.Warn("heartbeat timeout reached, starting election", "last-leader-id", "s1")
	l.Error("failed to contact", "server-id", "s2")
	l.Info("entering follower state")
	l.Debug("not shown: below hclog's level")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="heartbeat timeout reached, starting election" component=raft last-leader-id=s1`,
		`level=ERROR msg="failed to contact" component=raft server-id=s2`,
		`level=INFO msg="entering follower state" component=raft`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}
