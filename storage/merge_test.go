package storage

import (
	"bytes"
	"context"
	"errors"
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
		} else {
			prev, err = readMergeWrite(tx, op)
		}
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

// BenchmarkReceive applies batches of 1,000 replicated ops updating random
// entities of a store already holding `entities` of them, in one disk
// directory: read-merge-write (the receive path before AppendMerge, and
// still the owner's) against a merge operand. ns/op is per op.
func BenchmarkReceive(b *testing.B) {
	for _, entities := range []int{10_000, 200_000} {
		for _, path := range []string{"read-merge-write", "merge-operand"} {
			b.Run(fmt.Sprintf("entities=%d/%s", entities, path), func(b *testing.B) {
				s, err := Open(Options{Dir: b.TempDir(), CacheBytes: 8 << 20})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				seq, prev := uint64(0), [32]byte{}
				value := bytes.Repeat([]byte("x"), 100)
				batch := func(n int, key func(i int) int, merge bool) {
					if err := s.Update(ctx, func(tx *Txn) error {
						for i := range n {
							seq++
							op := &crdt.Op{Dataset: "d", Origin: "o", Seq: seq, Prev: prev, Epoch: 1,
								Time: crdt.Timestamp{WallMillis: int64(seq)}, Type: "t", Key: fmt.Sprintf("k%08d", key(i)),
								Fields: []crdt.FieldOp{{Name: "f", Kind: crdt.Register, Value: value}, {Name: "g", Kind: crdt.Register, Value: value}}}
							var err error
							if merge {
								prev, err = tx.AppendMerge(op)
							} else {
								prev, err = readMergeWrite(tx, op)
							}
							if err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				for base := 0; base < entities; base += 1000 {
					batch(1000, func(i int) int { return base + i }, true)
				}
				s.db.Flush()
				rng := rand.New(rand.NewPCG(3, 4))
				b.ResetTimer()
				for done := 0; done < b.N; done += 1000 {
					batch(min(1000, b.N-done), func(int) int { return rng.IntN(entities) }, path == "merge-operand")
				}
			})
		}
	}
}

func readMergeWrite(tx *Txn, op *crdt.Op) ([32]byte, error) {
	st, err := tx.State(op.Type, op.Key, op.Dataset)
	if err != nil {
		return [32]byte{}, err
	}
	st.Apply(op)
	return tx.Append(op, st)
}

// TestDamagedMergeOperand: a damaged state operand is an ErrCorrupt where
// the state is read, never a panic or a silently wrong state: alone (the
// merger passes a lone operand through undecoded, also through a flush and
// a compaction) and joined with a sound one.
func TestDamagedMergeOperand(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	op := &crdt.Op{Dataset: "d", Origin: "o", Seq: 1, Epoch: 1, Time: crdt.Timestamp{WallMillis: 1}, Type: "t", Key: "joined",
		Fields: []crdt.FieldOp{{Name: "f", Kind: crdt.Register, Value: []byte(`"v"`)}}}
	if err := s.Update(ctx, func(tx *Txn) error { _, err := tx.AppendMerge(op); return err }); err != nil {
		t.Fatal(err)
	}
	damaged := []byte{0x7f, 1, 2, 3}
	for _, key := range []string{"joined", "alone"} {
		if err := s.db.Merge(entityKey("t", key, "d"), damaged, nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, keys ...string) {
		t.Helper()
		for _, key := range keys {
			if ents, err := s.Entity("t", key); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Entity(%s) = %+v, %v; want ErrCorrupt", when, key, ents, err)
			}
			err := s.Update(ctx, func(tx *Txn) error { _, err := tx.State("t", key, "d"); return err })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Txn.State(%s) = %v; want ErrCorrupt", when, key, err)
			}
		}
	}
	check("in the memtable", "joined", "alone")
	// A flush would join the damaged operand with the sound one and fail;
	// the lone one goes through.
	if err := s.db.Delete(entityKey("t", "joined", "d"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	check("flushed and compacted", "alone")
}
