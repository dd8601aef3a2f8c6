package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/crdt"
)

// opSeqs lists the seqs of the ops held for stream (d, o).
func opSeqs(t *testing.T, r interface {
	OpRange(string, string, uint64, uint64, func(uint64, []byte) bool) error
}, d, o string) []uint64 {
	t.Helper()
	var out []uint64
	if err := r.OpRange(d, o, 0, 1<<62, func(seq uint64, _ []byte) bool { out = append(out, seq); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTruncateAndInstall(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s := openMem(t, fs)
	for i := 0; i < 10; i++ {
		if err := s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "k", `"v"`); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, func(tx *Txn) error { return tx.Truncate("d", "o", 11) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("truncate beyond the head: %v, want ErrInvalid", err)
	}
	if err := s.Update(ctx, func(tx *Txn) error { return tx.Truncate("d", "o", 6) }); err != nil {
		t.Fatal(err)
	}
	if got := opSeqs(t, s, "d", "o"); len(got) != 4 || got[0] != 7 {
		t.Fatalf("ops after truncating to 6: %v, want 7..10", got)
	}
	if f, err := s.Floor("d", "o"); err != nil || f != 6 {
		t.Fatalf("floor = %d, %v; want 6", f, err)
	}
	// Lowering the floor is a no-op.
	if err := s.Update(ctx, func(tx *Txn) error { return tx.Truncate("d", "o", 3) }); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Floor("d", "o"); f != 6 {
		t.Fatalf("floor after a lower truncate = %d, want 6", f)
	}
	// The stream goes on after a truncation.
	if err := s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "k", `"w"`); return err }); err != nil {
		t.Fatal(err)
	}

	// Install a head ahead of the stream: ops up to it go, the next op
	// must chain to its hash.
	h := Head{Seq: 20, Hash: [32]byte{1, 2, 3}, Time: crdt.Timestamp{WallMillis: 20}}
	var installed bool
	if err := s.Update(ctx, func(tx *Txn) error {
		var err error
		installed, err = tx.Install("d", "o", h)
		return err
	}); err != nil || !installed {
		t.Fatalf("install: %v, %v", installed, err)
	}
	if got := opSeqs(t, s, "d", "o"); len(got) != 0 {
		t.Fatalf("ops after install at 20: %v, want none", got)
	}
	if err := s.Update(ctx, func(tx *Txn) error {
		installed, _ = tx.Install("d", "o", Head{Seq: 15})
		return nil
	}); err != nil || installed {
		t.Fatalf("install behind the head: installed=%v, %v", installed, err)
	}
	if err := s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "k", `"x"`); return err }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// All of it survives a restart.
	s = openMem(t, fs)
	defer s.Close()
	heads, _ := s.Heads("d")
	if got := heads[Stream{"d", "o"}]; got.Seq != 21 {
		t.Fatalf("head after restart = %d, want 21", got.Seq)
	}
	if f, _ := s.Floor("d", "o"); f != 20 {
		t.Fatalf("floor after restart = %d, want 20", f)
	}
	if got := opSeqs(t, s, "d", "o"); len(got) != 1 || got[0] != 21 {
		t.Fatalf("ops after restart: %v, want [21]", got)
	}
	op, err := s.Op("d", "o", 21)
	if err != nil || op.Prev != h.Hash {
		t.Fatalf("op 21 = %+v, %v; want it chained to the installed head", op, err)
	}
}

func TestPutStateAndDurableSnapshot(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	st := &crdt.State{}
	st.Apply(&crdt.Op{Dataset: "d", Origin: "o", Seq: 1, Epoch: 1, Time: crdt.Timestamp{WallMillis: 5}, Type: "t", Key: "k",
		Fields: []crdt.FieldOp{{Name: "f", Kind: crdt.Register, Value: []byte(`"s"`)}}})
	if err := s.Update(ctx, func(tx *Txn) error { return tx.PutState("t", "k", "d", "src", st) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Txn) error { return tx.PutState("t", "k", "d", "", st) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutState without an origin: %v, want ErrInvalid", err)
	}
	snap, err := s.DurableSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A write after the snapshot is not in it.
	if err := s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "k2", `"v"`); return err }); err != nil {
		t.Fatal(err)
	}
	ents, err := snap.Entities("t", "", "", 10)
	if err != nil || len(ents) != 1 || string(ents[0].States[0].State.Field("f").Value) != `"s"` {
		t.Fatalf("snapshot entities = %+v, %v; want only k", ents, err)
	}
	if heads, _ := snap.Heads(""); len(heads) != 0 {
		t.Fatalf("snapshot heads = %v, want none", heads)
	}
	snap.Close()
	ch, err := s.Changes(0, 10)
	if err != nil || len(ch) != 2 || ch[0].Origin != "src" || ch[0].OpSeq != 0 || ch[1].OpSeq != 1 {
		t.Fatalf("changes = %+v, %v; want the installed state (op seq 0) then the op", ch, err)
	}
}
