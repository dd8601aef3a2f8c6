package control

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// FuzzFSM: whatever bytes a Raft log entry, a snapshot being restored or the
// saved view hold (corruption, a forged entry, a future build's), the state
// machine answers with an error or a view, and never panics.
func FuzzFSM(f *testing.F) {
	for _, s := range []string{
		`{"op":"put_member","member":{"name":"s1","role":"seed","peer_id":"P"},"by":"P"}`,
		`{"op":"put_member","by":"P"}`, `{"op":"restore","by":"P","view":{"members":[null]}}`,
		`{"applied":3,"view":{"index":3,"members":[{"name":"s1","role":"seed","peer_id":"P"}]}}`,
		`{"applied":1,"view":null}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "refused"}, []string{"op"})
		logger := slog.New(slog.DiscardHandler)
		m := newFSM(logger, refused)
		m.Apply(&raft.Log{Index: 1, Data: b})
		m.Apply(&raft.Log{Index: 2, Data: b})
		if m.view.Load() == nil {
			t.Fatal("no view after apply")
		}
		newFSM(logger, refused).Restore(io.NopCloser(bytes.NewReader(b)))
		newFSM(logger, refused).load(b)
	})
}
