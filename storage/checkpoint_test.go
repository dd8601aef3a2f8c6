package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCheckpointUnderWrites checkpoints a store while eight writers append
// to their streams, opens each checkpoint as a store and checks that it is
// consistent: every write acknowledged before the checkpoint is there, each
// stream's op log runs without a gap up to its head and no further, the
// heads Checkpoint returned are the copy's, and the copy takes new writes.
func TestCheckpointUnderWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const writers = 8
	var acked [writers]atomic.Uint64 // per writer, the last seq acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			origin := fmt.Sprint("o", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				var seq uint64
				err := s.Update(ctx, func(tx *Txn) error {
					op, err := appendNext(tx, "d", origin, fmt.Sprint("k", w), "1")
					if err == nil {
						seq = op.Seq
					}
					return err
				})
				if err != nil {
					errc <- err
					return
				}
				acked[w].Store(seq)
			}
		}()
	}
	for i := range 5 {
		for w := range writers { // let every writer write between checkpoints
			for start := acked[w].Load(); acked[w].Load() < start+20; {
				select {
				case err := <-errc:
					t.Fatal(err)
				case <-time.After(time.Millisecond):
				}
			}
		}
		var before [writers]uint64
		for w := range writers {
			before[w] = acked[w].Load()
		}
		cp := filepath.Join(dir, fmt.Sprint("cp", i))
		heads, err := s.Checkpoint(ctx, cp)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
		c, err := Open(Options{Dir: cp})
		if err != nil {
			t.Fatalf("open checkpoint %d: %v", i, err)
		}
		got, _ := c.Heads("")
		for w := range writers {
			st := Stream{"d", fmt.Sprint("o", w)}
			h := got[st]
			if h.Seq < before[w] {
				t.Errorf("checkpoint %d: %s at %d, but %d was acknowledged before it", i, st.Origin, h.Seq, before[w])
			}
			if heads[st] != h {
				t.Errorf("checkpoint %d: Checkpoint said %s at %d, the copy holds %d", i, st.Origin, heads[st].Seq, h.Seq)
			}
			n := uint64(0)
			if err := c.OpRange("d", st.Origin, 1, h.Seq+10, func(seq uint64, _ []byte) bool { n++; return seq == n }); err != nil {
				t.Fatal(err)
			}
			if n != h.Seq {
				t.Errorf("checkpoint %d: %s holds %d ops in a row, head %d", i, st.Origin, n, h.Seq)
			}
		}
		if err := c.Update(ctx, func(tx *Txn) error { _, err := appendNext(tx, "d", "o0", "k0", "2"); return err }); err != nil {
			t.Errorf("write to checkpoint %d: %v", i, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopened, the copy's commit counter still matches its file.
		c, err = Open(Options{Dir: cp})
		if err != nil {
			t.Fatalf("reopen checkpoint %d: %v", i, err)
		}
		c.Close()
	}
	close(stop)
	wg.Wait()
}

func TestCheckpointRefusesExistingDir(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	defer s.Close()
	if err := fs.MkdirAll("cp", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(context.Background(), "cp"); err == nil {
		t.Fatal("Checkpoint into an existing directory succeeded")
	}
	s.Close()
	if _, err := s.Checkpoint(context.Background(), "cp2"); err != ErrClosed {
		t.Fatalf("Checkpoint after Close: %v, want ErrClosed", err)
	}
}
