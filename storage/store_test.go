package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/crdt"
)

func openMem(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open(Options{Dir: "db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendNext writes a one-field register op at the end of stream
// (dataset, origin) for entity ("t", key).
func appendNext(tx *Txn, dataset, origin, key, value string) (*crdt.Op, error) {
	h, err := tx.Head(dataset, origin)
	if err != nil {
		return nil, err
	}
	op := &crdt.Op{Dataset: dataset, Origin: origin, Seq: h.Seq + 1, Prev: h.Hash, Epoch: 1,
		Time: crdt.Timestamp{WallMillis: int64(h.Seq + 1)}, Type: "t", Key: key,
		Fields: []crdt.FieldOp{{Name: "f", Kind: crdt.Register, Value: []byte(value)}}}
	st, err := tx.State("t", key, dataset)
	if err != nil {
		return nil, err
	}
	st.Apply(op)
	_, err = tx.Append(op, st)
	return op, err
}

func TestAppendAndRead(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	for i, w := range []struct{ ds, key, v string }{
		{"d1", "k1", `"a"`}, {"d2", "k1", `"b"`}, {"d1", "k2", `"c"`}, {"d1", "k1", `"d"`},
	} {
		if err := s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, w.ds, "o", w.key, w.v); return err }); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	ents, err := s.Entity("t", "k1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Dataset != "d1" || ents[1].Dataset != "d2" {
		t.Fatalf("Entity(k1) = %+v, want d1 and d2", ents)
	}
	if got := string(ents[0].State.Field("f").Value); got != `"d"` {
		t.Fatalf("k1 in d1 = %s, want \"d\"", got)
	}
	page, err := s.Entities("t", "", "", 1)
	if err != nil || len(page) != 1 || page[0].Key != "k1" || len(page[0].States) != 2 {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = s.Entities("t", "", "k1", 10)
	if err != nil || len(page) != 1 || page[0].Key != "k2" {
		t.Fatalf("page after k1 = %+v, %v", page, err)
	}
	page, err = s.Entities("t", "k2", "", 10)
	if err != nil || len(page) != 1 || page[0].Key != "k2" {
		t.Fatalf("page with prefix k2 = %+v, %v", page, err)
	}
	heads, err := s.Heads("d1")
	if err != nil || heads[Stream{"d1", "o"}].Seq != 3 || len(heads) != 1 {
		t.Fatalf("heads(d1) = %+v, %v", heads, err)
	}
	changes, err := s.Changes(1, 10)
	if err != nil || len(changes) != 3 || changes[0].Seq != 2 || changes[2].Key != "k1" || changes[2].OpSeq != 3 {
		t.Fatalf("changes after 1 = %+v, %v", changes, err)
	}
	op, err := s.Op("d1", "o", 2)
	if err != nil || op.Key != "k2" {
		t.Fatalf("op d1/o/2 = %+v, %v", op, err)
	}
	if _, err := s.Op("d1", "o", 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("op past the head: %v, want ErrNotFound", err)
	}
}

func TestAppendRejectsOutOfSequence(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	var first *crdt.Op
	if err := s.Update(ctx, func(tx *Txn) (err error) { first, err = appendNext(tx, "d", "o", "k", `1`); return err }); err != nil {
		t.Fatal(err)
	}
	base := func() *crdt.Op {
		op := *first
		op.Seq = 2
		h, _ := s.Heads("d")
		op.Prev = h[Stream{"d", "o"}].Hash
		return &op
	}
	tests := []struct {
		name string
		mod  func(*crdt.Op)
	}{
		{"replay", func(op *crdt.Op) { op.Seq = 1; op.Prev = [32]byte{} }},
		{"gap", func(op *crdt.Op) { op.Seq = 3 }},
		{"broken chain", func(op *crdt.Op) { op.Prev[0] ^= 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := base()
			tt.mod(op)
			err := s.Update(ctx, func(tx *Txn) error { _, err := tx.Append(op, op.Delta()); return err })
			if !errors.Is(err, ErrSequence) {
				t.Fatalf("got %v, want ErrSequence", err)
			}
			if h, _ := s.Heads("d"); h[Stream{"d", "o"}].Seq != 1 {
				t.Fatalf("head moved to %d", h[Stream{"d", "o"}].Seq)
			}
		})
	}
}

func TestFailedFunctionWritesNothing(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *Txn) error {
		if _, err := appendNext(tx, "d", "o", "k", `1`); err != nil {
			return err
		}
		tx.PutLocal("x", []byte("y"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if ents, _ := s.Entity("t", "k"); len(ents) != 0 {
		t.Fatalf("entity written by a failed function: %+v", ents)
	}
	if _, err := s.GetLocal("x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("local value written by a failed function: %v", err)
	}
	// The stream must still start at 1: the head cache was not advanced.
	if err := s.Update(context.Background(), func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "k", `1`); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitCrash writes from many goroutines on a crashable in-memory
// file system, crashes it keeping only synced data, and checks that every
// acknowledged write survived.
func TestGroupCommitCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openMem(t, fs)
	const writers, each = 16, 50
	var wg sync.WaitGroup
	acked := make([]int, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := s.Update(context.Background(), func(tx *Txn) error {
					_, err := appendNext(tx, "d", fmt.Sprint("o", w), fmt.Sprint("k", w, "-", i), `1`)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				acked[w] = i + 1
			}
		}()
	}
	wg.Wait()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	s.Close()
	s = openMem(t, crashed)
	defer s.Close()
	heads, err := s.Heads("")
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		if got := heads[Stream{"d", fmt.Sprint("o", w)}].Seq; got < uint64(acked[w]) {
			t.Errorf("writer %d: head %d after crash, %d acknowledged", w, got, acked[w])
		}
	}
	if s.Durable() != writers*each {
		t.Errorf("change feed at %d after crash, want %d", s.Durable(), writers*each)
	}
}

func sha256Op(op *crdt.Op) [32]byte { return sha256.Sum256(crdt.AppendOp(nil, op)) }

func TestUpdateAfterClose(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	s.Close()
	done := make(chan error, 1)
	go func() { done <- s.Update(context.Background(), func(*Txn) error { return nil }) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Update after Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Update after Close blocked")
	}
}
