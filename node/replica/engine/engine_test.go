package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestTraces runs the traces in testdata: each command steps the engine
// (or ticks it), and the output is the Ready that follows, which the test
// then advances. Run with -rewrite to regenerate, and review the diff.
//
//	engine self=NAME                     a new engine
//	meta members=(a,b) | dataset lines   MsgMeta; input lines: NAME owner=O readers=(R,..) past=(P,..)
//	connected peers=(a,b)                MsgConnected
//	changed names=(d,..)                 MsgChanged
//	notified from=a                      MsgNotified
//	pull-done from=a applied=N names=(d) [err]
//	snapshot-done from=a name=d [more] [err]
//	pending from=a names=(d)             MsgPending
//	purged [deferred]                    MsgPurged
//	unsubscribed from=a                  MsgUnsubscribed
//	subscribers peers=(a,b)              MsgSubscribers
//	tick [n=N]                           N ticks
//
// `engine self=NAME push [stream-pull=N]` holds subscriptions (Config.Push,
// SubscribedPullTicks).
func TestTraces(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var e *Engine
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "engine" {
				var self string
				d.ScanArgs(t, "self", &self)
				e = New(Config{Self: self, TruncateTicks: intArg(t, d, "truncate", 0), Push: d.HasArg("push"),
					SubscribedPullTicks: intArg(t, d, "stream-pull", 0)})
				return "ok"
			}
			if e == nil {
				d.Fatalf(t, "no engine: start with `engine self=NAME`")
			}
			m := Message{From: strArg(d, "from"), Names: listArg(d, "names"), Applied: intArg(t, d, "applied", 0),
				More: d.HasArg("more"), Err: d.HasArg("err"), Deferred: d.HasArg("deferred")}
			if n := strArg(d, "name"); n != "" {
				m.Names = []string{n}
			}
			switch d.Cmd {
			case "tick":
				for range intArg(t, d, "n", 1) {
					e.Tick()
				}
				return render(e)
			case "meta":
				m.Type, m.Members = MsgMeta, listArg(d, "members")
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					if line = strings.TrimSpace(line); line != "" {
						m.Datasets = append(m.Datasets, parseDataset(t, line))
					}
				}
			case "connected":
				m.Type, m.Peers = MsgConnected, listArg(d, "peers")
			case "subscribers":
				m.Type, m.Peers = MsgSubscribers, listArg(d, "peers")
			default:
				if m.Type = commands[d.Cmd]; m.Type == 0 {
					d.Fatalf(t, "unknown command %q", d.Cmd)
				}
			}
			e.Step(m)
			return render(e)
		})
	})
}

// commands are the trace commands that step a message with no field of
// its own.
var commands = map[string]MsgType{"changed": MsgChanged, "notified": MsgNotified, "pull-done": MsgPullDone,
	"snapshot-done": MsgSnapshotDone, "pending": MsgPending, "purged": MsgPurged, "unsubscribed": MsgUnsubscribed}

// render prints the Ready, if any, and advances it.
func render(e *Engine) string {
	if !e.HasReady() {
		return "(nothing)"
	}
	rd := e.Ready()
	defer e.Advance()
	var b strings.Builder
	for _, r := range rd.Requests {
		switch r.Kind {
		case Pull:
			fmt.Fprintf(&b, "pull %s\n", r.To)
		case Snapshot:
			fmt.Fprintf(&b, "snapshot %s %s first=%v\n", r.To, r.Dataset, r.First)
		}
	}
	for _, n := range rd.Notifications {
		fmt.Fprintf(&b, "notify %s %s\n", n.To, strings.Join(n.Datasets, ","))
	}
	if len(rd.Dial) > 0 {
		fmt.Fprintf(&b, "dial %s\n", strings.Join(rd.Dial, ","))
	}
	if rd.Purge {
		b.WriteString("purge\n")
	}
	if rd.Truncate {
		b.WriteString("truncate\n")
	}
	if len(rd.Subscribe) > 0 {
		fmt.Fprintf(&b, "subscribe %s\n", strings.Join(rd.Subscribe, ","))
	}
	if len(rd.Unsubscribe) > 0 {
		fmt.Fprintf(&b, "unsubscribe %s\n", strings.Join(rd.Unsubscribe, ","))
	}
	return b.String()
}

func parseDataset(t *testing.T, line string) Dataset {
	t.Helper()
	f := strings.Fields(line)
	ds := Dataset{Name: f[0]}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		list := strings.FieldsFunc(strings.Trim(v, "()"), func(r rune) bool { return r == ',' })
		switch k {
		case "owner":
			ds.Owner = v
		case "readers":
			ds.Readers = list
		case "past":
			ds.PastOwners = list
		default:
			t.Fatalf("dataset %s: unknown field %q", ds.Name, k)
		}
	}
	return ds
}

func strArg(d *datadriven.TestData, key string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return ""
}

func listArg(d *datadriven.TestData, key string) []string {
	if a, ok := d.Arg(key); ok {
		return a.Vals
	}
	return nil
}

func intArg(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var n int
	d.ScanArgs(t, key, &n)
	return n
}
