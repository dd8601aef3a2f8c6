package storage

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestApplyDurableWatermark: writes by Apply are visible at once, counted
// durable only once a sync covers them, and a crash before that takes them
// back whole; Update and Sync sync them. DeferSyncs makes each step
// deterministic.
func TestApplyDurableWatermark(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	open := func(fs vfs.FS) *Store {
		t.Helper()
		s, err := Open(Options{Dir: "db", FS: fs, DeferSyncs: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write := func(s *Store, apply bool, origin, key string) {
		t.Helper()
		do := s.Update
		if apply {
			do = s.Apply
		}
		if err := do(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", origin, key, `"v"`); return err }); err != nil {
			t.Fatal(err)
		}
	}
	// want checks the applied and the durable heads of streams u and a,
	// and the change feed's durable position.
	want := func(s *Store, when string, u, a, du, da, changes uint64) {
		t.Helper()
		heads, _ := s.Heads("d")
		durable := s.DurableHeads("d")
		if heads[Stream{"d", "u"}].Seq != u || heads[Stream{"d", "a"}].Seq != a ||
			durable[Stream{"d", "u"}].Seq != du || durable[Stream{"d", "a"}].Seq != da || s.Durable() != changes {
			t.Fatalf("%s: applied u=%d a=%d, durable u=%d a=%d, changes %d; want %d %d, %d %d, %d", when,
				heads[Stream{"d", "u"}].Seq, heads[Stream{"d", "a"}].Seq,
				durable[Stream{"d", "u"}].Seq, durable[Stream{"d", "a"}].Seq, s.Durable(), u, a, du, da, changes)
		}
		if cs, err := s.Changes(0, 100); err != nil || uint64(len(cs)) != changes {
			t.Fatalf("%s: %d durable changes listed (%v), want %d", when, len(cs), err, changes)
		}
	}

	s := open(fs)
	write(s, false, "u", "u1")
	write(s, true, "a", "a1")
	write(s, true, "a", "a2")
	want(s, "two applied after one update", 1, 2, 1, 0, 1)
	if ents, err := s.Entity("t", "a2"); err != nil || len(ents) != 1 {
		t.Fatalf("an applied write is not visible to reads: %v %v", ents, err)
	}

	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	s2 := open(crashed)
	want(s2, "reopened after a crash before the sync", 1, 0, 1, 0, 1)
	write(s2, true, "a", "a1") // the origin sends them again
	write(s2, true, "a", "a2")
	if err := s2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(s2, "sent again and synced", 1, 2, 1, 2, 3)
	s2.Close()

	write(s, true, "a", "a3")
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(s, "after Sync", 1, 3, 1, 3, 4)
	write(s, true, "a", "a4")
	write(s, false, "u", "u2") // an update syncs what was applied before it
	want(s, "after an update", 2, 4, 2, 4, 6)
	if err := s.Sync(ctx); err != nil { // nothing to sync
		t.Fatal(err)
	}
	crashed = fs.CrashClone(vfs.CrashCloneCfg{})
	s.Close()
	s3 := open(crashed)
	defer s3.Close()
	want(s3, "reopened after a crash after the syncs", 2, 4, 2, 4, 6)
}

// TestApplySyncsWhenIdle: without DeferSyncs, what Apply wrote reaches the
// disk with no further call.
func TestApplySyncsWhenIdle(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	for i := range 3 {
		if err := s.Apply(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "a", "k", `"v"`); return err }); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for d := s.Durable(); d < 3; d = s.Durable() {
		if err := s.WaitDurable(wait, d); err != nil {
			t.Fatalf("applied writes never synced: durable position %d of 3: %v", d, err)
		}
	}
	if h := s.DurableHeads("d")[Stream{"d", "a"}]; h.Seq != 3 {
		t.Fatalf("durable position 3, but the durable head is %d", h.Seq)
	}
}

// TestDurableSnapshotSyncsApplied: with DeferSyncs, a durable snapshot
// syncs what Apply wrote instead of waiting for a sync that nothing else
// would start.
func TestDurableSnapshotSyncsApplied(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), DeferSyncs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "a", "k", `"v"`); return err }); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	snap, err := s.DurableSnapshot(wait)
	if err != nil {
		t.Fatalf("durable snapshot over an applied write: %v", err)
	}
	defer snap.Close()
	if s.Durable() != 1 {
		t.Fatalf("durable position %d after the snapshot, want 1", s.Durable())
	}
	if _, err := snap.Op("d", "a", 1); err != nil {
		t.Fatalf("the snapshot lacks the applied op: %v", err)
	}
}
