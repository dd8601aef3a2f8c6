package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
	if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("write on a full disk: %v, want ErrFailed and ErrDiskFull naming the cause", err)
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

// TestOpenOnFullDisk: Open on a full disk fails at once with ErrDiskFull
// naming the directory and what to do, whichever write finds it full (it
// span at 100% CPU in Pebble's flush retries, never returning).
func TestOpenOnFullDisk(t *testing.T) {
	t.Run("too little free space", func(t *testing.T) {
		mem := vfs.NewMem()
		mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 20, TotalBytes: 1 << 30, UsedBytes: 1<<30 - 1<<20})
		_, err := Open(Options{Dir: "db", FS: mem})
		wantDiskFull(t, err, "1048576 bytes free")
	})
	// A full disk meets the new WAL, the flush of the WAL replayed, the new
	// manifest, or (for a new store) the commit marker first.
	for _, file := range []string{".log", ".sst", "MANIFEST", committedFile} {
		t.Run("no space writing "+file, func(t *testing.T) {
			mem := vfs.NewMem()
			s, err := Open(Options{Dir: "db", FS: mem})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := s.Update(context.Background(), func(tx *Txn) error {
					_, err := appendNext(tx, "d", "o", fmt.Sprint("k", i), `1`)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			if file == committedFile {
				mem = vfs.NewMem()
			}
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, file) {
					return syscall.ENOSPC
				}
				return nil
			}))
			done := make(chan error, 1)
			go func() {
				s, err := Open(Options{Dir: "db", FS: fs})
				if err == nil {
					err = s.Update(context.Background(), func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "x", `1`); return err })
					s.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				wantDiskFull(t, err, "no space left")
			case <-time.After(30 * time.Second):
				t.Fatal("Open or the first write did not return on a full disk")
			}
		})
	}
}

func wantDiskFull(t *testing.T, err error, detail string) {
	t.Helper()
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("got %v, want ErrDiskFull", err)
	}
	for _, want := range []string{"disk full at db", "free space", detail} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%q does not say %q", err, want)
		}
	}
}
