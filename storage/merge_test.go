package storage

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/crdt"
)

// TestAppendMergeMatchesAppend: ops applied as merge operands
// (AppendMerge, the replication receive path) and as read-merge-write
// (Append, the owner's path), mixed in one Txn, across the Txns of one
// group, flushes, compactions and a reopen, leave exactly
// the states an in-memory model of the same ops has.
func TestAppendMergeMatchesAppend(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	defer func() { s.Close() }()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]*crdt.State{}
	keys := []string{"k1", "k2", "k3", "k4"}
	seq, prev := uint64(0), [32]byte{}
	next := func(tx *Txn) error {
		key := keys[rng.IntN(len(keys))]
		seq++
		op := &crdt.Op{Dataset: "d", Origin: "o", Seq: seq, Prev: prev, Epoch: 1,
			Time: crdt.Timestamp{WallMillis: int64(rng.IntN(50))}, Type: "t", Key: key}
		switch rng.IntN(6) {
		case 0:
			op.Delete = true
		case 1:
			op.Replace = true
			fallthrough
		default:
			op.Fields = []crdt.FieldOp{{Name: fmt.Sprintf("f%d", rng.IntN(3)), Kind: crdt.Register, Value: fmt.Appendf(nil, "%d", rng.IntN(9))}}
		}
		if model[key] == nil {
			model[key] = &crdt.State{}
		}
		model[key].Apply(op)
		var err error
		if rng.IntN(2) == 0 {
			prev, err = tx.AppendMerge(op)
			return err
		}
		st, err := tx.State("t", key, "d")
		if err != nil {
			return err
		}
		st.Apply(op)
		prev, err = tx.Append(op, st)
		return err
	}
	check := func(when string) {
		t.Helper()
		for _, key := range keys {
			ents, err := s.Entity("t", key)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			want := model[key]
			if want == nil {
				continue
			}
			if len(ents) != 1 || !bytes.Equal(crdt.AppendState(nil, ents[0].State), crdt.AppendState(nil, want)) {
				t.Fatalf("%s: %s is %+v, want %+v", when, key, ents, want)
			}
		}
	}
	for round := range 40 {
		for range 3 {
			if err := s.Update(ctx, func(tx *Txn) error {
				for range 1 + rng.IntN(4) { // a Txn merges into keys it wrote, and writes keys it merged into
					if err := next(tx); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("round %d", round))
		if round%10 == 9 {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("round %d, compacted", round))
		}
	}
	s.Close()
	s = openMem(t, fs)
	check("after reopen")
}
