package control

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRetriedProposalAppliesOnce: a command whose ID was applied is a no-op
// when a retry puts it in the log again, here and on a replica that starts
// from a snapshot or the saved state taken between the two copies.
func TestRetriedProposalAppliesOnce(t *testing.T) {
	newM := func() *fsm {
		return newFSM(slog.New(slog.DiscardHandler), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "refused"}, []string{"op"}))
	}
	seed := `{"op":"put_member","member":{"name":"s1","role":"seed","peer_id":"P"},"by":"P","id":"1"}`
	admit := `{"op":"put_member","member":{"name":"m1","role":"member","peer_id":"Q"},"by":"P","id":"2"}`
	remove := `{"op":"remove_member","name":"m1","by":"P","id":"3"}`
	f := newM()
	for i, e := range []string{seed, admit, remove} {
		if res := f.Apply(&raft.Log{Index: uint64(i + 1), Data: []byte(e)}); res != nil {
			t.Fatalf("entry %d: %v", i+1, res)
		}
	}
	snap, _ := f.Snapshot()
	b, err := encodePersisted(f.applied.Load(), f.view.Load(), snap.(*snapshot).recent)
	if err != nil {
		t.Fatal(err)
	}
	restored, loaded := newM(), newM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if err := loaded.load(b); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*fsm{"the proposer's": f, "a restored replica's": restored, "a restarted replica's": loaded} {
		m.Apply(&raft.Log{Index: 4, Data: []byte(admit)}) // the retry's copy
		if m.view.Load().Member("m1") != nil {
			t.Errorf("%s state machine applied the retried admission of m1 again, over its removal", name)
		}
	}
	fresh := `{"op":"put_member","member":{"name":"m1","role":"member","peer_id":"Q"},"by":"P","id":"4"}`
	f.Apply(&raft.Log{Index: 5, Data: []byte(fresh)})
	if f.view.Load().Member("m1") == nil {
		t.Error("a new proposal (another ID) of the same admission was not applied")
	}
}
