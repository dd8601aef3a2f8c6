package storage

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestDiskFull fills the disk under a running store: the write in flight and
// every later write fail with ErrFailed, nothing acknowledged before is lost,
// and after "freeing space" the store reopens with exactly the acknowledged
// writes.
func TestDiskFull(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var full atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".log") {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := Open(Options{Dir: "db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	write := func(key string) error {
		return s.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o", key, `1`); return err })
	}
	for _, k := range []string{"a", "b"} {
		if err := write(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err before the disk filled: %v", err)
	}
	full.Store(true)
	err = write("c")
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("write on a full disk: %v, want ErrFailed naming the cause", err)
	}
	if err := write("d"); !errors.Is(err, ErrFailed) {
		t.Fatalf("write after the failure: %v, want ErrFailed", err)
	}
	if err := s.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Err after the failure: %v, want ErrFailed naming the cause", err)
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	s.Close() // may report the failure; the state on disk is what matters
	s, err = Open(Options{Dir: "db", FS: crashed})
	if err != nil {
		t.Fatalf("reopen after the disk was freed: %v", err)
	}
	defer s.Close()
	for _, k := range []string{"a", "b"} {
		if ents, err := s.Entity("t", k); err != nil || len(ents) != 1 {
			t.Fatalf("acknowledged write %s lost: %v %v", k, ents, err)
		}
	}
	if h, _ := s.Heads("d"); h[Stream{"d", "o"}].Seq != 2 {
		t.Fatalf("head %d after reopen, want 2", h[Stream{"d", "o"}].Seq)
	}
}
