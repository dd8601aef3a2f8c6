package storage

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestGroupReadsEarlierFunctions: a function reads what the earlier
// functions of its group wrote, deleted and range-deleted (the group's batch
// is not indexed; building.written answers), and the store holds the same
// once the group is synced and after a reopen.
func TestGroupReadsEarlierFunctions(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	ctx := t.Context()
	if err := s.Update(ctx, func(tx *Txn) error {
		tx.PutLocal("a", []byte("stored-a"))
		tx.PutLocal("d", []byte("stored-d"))
		tx.PutLocal("z", []byte("stored-z"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	get := func(tx *Txn, name string) string {
		v, err := tx.GetLocal(name)
		if err == ErrNotFound {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	steps := []func(tx *Txn) error{
		func(tx *Txn) error {
			if got := get(tx, "a"); got != "stored-a" {
				t.Errorf("first function reads a = %s, want the store's", got)
			}
			tx.PutLocal("b", []byte("group-b"))
			tx.PutLocal("d", nil)
			return nil
		},
		func(tx *Txn) error {
			if b, d := get(tx, "b"), get(tx, "d"); b != "group-b" || d != "<none>" {
				t.Errorf("second function reads b = %s, d = %s; want group-b, <none>", b, d)
			}
			tx.DeleteLocalRange("a", "c")
			return nil
		},
		func(tx *Txn) error {
			if a, b, z := get(tx, "a"), get(tx, "b"), get(tx, "z"); a != "<none>" || b != "<none>" || z != "stored-z" {
				t.Errorf("after the range deletion: a = %s, b = %s, z = %s; want <none>, <none>, stored-z", a, b, z)
			}
			tx.PutLocal("b", []byte("group-b2"))
			return nil
		},
		func(tx *Txn) error {
			if b := get(tx, "b"); b != "group-b2" {
				t.Errorf("a write after the range deletion: b = %s, want group-b2", b)
			}
			return nil
		},
	}
	g := s.newGroup()
	for _, fn := range steps {
		g.add(&request{fn: fn, done: make(chan struct{})})
	}
	g.commit(true)
	for _, r := range g.reqs {
		<-r.done
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	want := map[string]string{"a": "<none>", "b": "group-b2", "d": "<none>", "z": "stored-z"}
	check := func(when string) {
		t.Helper()
		if err := s.Update(ctx, func(tx *Txn) error {
			for name, w := range want {
				if got := get(tx, name); got != w {
					t.Errorf("%s: %s = %s, want %s", when, name, got, w)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check("after the group")
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	check("after a reopen")
}
