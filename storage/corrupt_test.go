package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/crdt"
)

// writeStore creates a store in dir with n entities written one group each,
// flushed to an SSTable if flush, and closes it. The store is opened once
// empty first, so that the WAL holding the writes is one written at the
// store's format (a new store's first WAL is written before Pebble raises the
// format, without synced offsets in its chunks).
func writeStore(t *testing.T, dir string, n int, flush bool) {
	t.Helper()
	s, err := Open(Options{Dir: dir})
	if err == nil {
		err = s.Close()
	}
	if err == nil {
		s, err = Open(Options{Dir: dir})
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := s.Update(context.Background(), func(tx *Txn) error {
			// Values that do not compress well, so entity states and ops
			// take most of an SSTable.
			v := fmt.Sprintf(`"%x"`, sha256.Sum256([]byte(fmt.Sprint(i))))
			_, err := appendNext(tx, "d", "o", fmt.Sprintf("k%05d", i), v)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if flush {
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// onlyFile returns the one file in dir matching pattern.
func onlyFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("files %s in %s: %v %v, want one", pattern, dir, m, err)
	}
	return m[0]
}

// latestWAL returns the non-empty WAL with the highest number in dir.
func latestWAL(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(m)
	for i := len(m) - 1; i >= 0; i-- {
		if fi, err := os.Stat(m[i]); err == nil && fi.Size() > 1024 {
			return m[i]
		}
	}
	t.Fatalf("no WAL with data in %s: %v", dir, m)
	return ""
}

func rewrite(t *testing.T, path string, damage func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, damage(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func flip(from, to int) func([]byte) []byte {
	return func(b []byte) []byte {
		for i := from; i < to; i++ {
			b[i] ^= 0xff
		}
		return b
	}
}

// wantCorrupt fails unless err is ErrCorrupt naming every part.
func wantCorrupt(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	t.Logf("%s: %v", what, err)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: %v, want ErrCorrupt", what, err)
	}
	for _, p := range append(parts, "restore", "backup", "rebuild") {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: %q does not say %q", what, err, p)
		}
	}
}

// TestCorruptSSTableBlock flips bytes in an SSTable data block: the reads
// that meet it return ErrCorrupt naming the file, never panic (Pebble's
// default handler crashed the node); the store raises its alarm and keeps
// serving what it can read.
func TestCorruptSSTableBlock(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	writeStore(t, dir, n, true)
	sst := onlyFile(t, dir, "*.sst")
	// The table holds the change feed (c), entity states (e), the op log
	// (o) and heads (v) in that order: a third in is an entity state.
	rewrite(t, sst, func(b []byte) []byte { return flip(len(b)/3, len(b)/3+16)(b) })
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("open: %v (the damage should be in entity states, not read at open)", err)
	}
	defer s.Close()
	if s.Corruption() != nil {
		t.Fatalf("alarm before any read: %v", s.Corruption())
	}
	_, err = s.Entities("t", "", "", n)
	wantCorrupt(t, "Entities", err, filepath.Base(sst), "entity states")
	if a := s.Corruption(); !errors.Is(a, ErrCorrupt) || s.Corruptions() == 0 {
		t.Fatalf("alarm after a corrupt read: %v (%d)", a, s.Corruptions())
	}
	// The rest of the store still reads: the op log and the change feed.
	if err := s.OpRange("d", "o", 1, n, func(uint64, []byte) bool { return true }); err != nil {
		t.Fatalf("op log beside the damage: %v", err)
	}
	// A write whose entity state is in the damaged block fails, with the
	// same error; the store takes other writes. (A scan of the key before
	// the block may fail too, looking ahead: the last key that fails is in
	// the block.)
	var hit string
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%05d", i)
		if _, err := s.Entity("t", k); err != nil {
			wantCorrupt(t, "Entity "+k, err, filepath.Base(sst))
			hit = k
		}
	}
	if hit == "" {
		t.Fatal("no entity read met the damage")
	}
	err = s.Update(context.Background(), func(tx *Txn) error { _, err := appendNext(tx, "d", "o", hit, `1`); return err })
	wantCorrupt(t, "write to "+hit, err, filepath.Base(sst))
	if err := s.Update(context.Background(), func(tx *Txn) error { _, err := appendNext(tx, "d", "o", "new", `1`); return err }); err != nil {
		t.Fatalf("write beside the damage: %v", err)
	}
}

// TestCorruptSSTableFooter damages an SSTable's footer: Open fails with
// ErrCorrupt naming the file (it panicked with a goroutine dump).
func TestCorruptSSTableFooter(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 100, true)
	sst := onlyFile(t, dir, "*.sst")
	rewrite(t, sst, func(b []byte) []byte { return flip(len(b)-20, len(b)-10)(b) })
	s, err := Open(Options{Dir: dir})
	if err == nil {
		s.Close()
	}
	wantCorrupt(t, "open", err, sst)
}

// TestDamagedWAL damages the last WAL of a closed store in the ways a disk
// or an operator does. Damage before what was acknowledged makes Open
// refuse with ErrCorrupt; bytes after it (a torn tail) do not.
func TestDamagedWAL(t *testing.T) {
	const n = 300
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   []string // nil: opens with every write
	}{
		{"16 bytes flipped in the middle", func(b []byte) []byte { return flip(len(b)/2, len(b)/2+16)(b) }, []string{"replaying the write-ahead log", "invalid chunk"}},
		{"cut to half", func(b []byte) []byte { return b[:len(b)/2] }, []string{"lost acknowledged writes", fmt.Sprint("group commit ", n)}},
		{"last record damaged", func(b []byte) []byte { return flip(len(b)-40, len(b)-30)(b) }, []string{"lost acknowledged writes"}},
		{"torn tail after the last sync", func(b []byte) []byte { return append(b, []byte("\x17\x00\x01partial record")...) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeStore(t, dir, n, false)
			rewrite(t, latestWAL(t, dir), tt.damage)
			s, err := Open(Options{Dir: dir})
			if tt.want != nil {
				if err == nil {
					h, _ := s.Heads("d")
					s.Close()
					t.Fatalf("opened with head %d of %d acknowledged", h[Stream{"d", "o"}].Seq, n)
				}
				wantCorrupt(t, "open", err, tt.want...)
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			if h, _ := s.Heads("d"); h[Stream{"d", "o"}].Seq != n {
				t.Fatalf("head %d, want %d", h[Stream{"d", "o"}].Seq, n)
			}
		})
	}
}

// TestMissingFiles deletes what tells Pebble and the store that a store is
// there: Open refuses instead of starting empty.
func TestMissingFiles(t *testing.T) {
	for _, tt := range []struct{ pattern, want string }{
		{"marker.manifest.*", "manifest marker"},
		{committedFile, committedFile + " is missing"},
	} {
		t.Run(tt.pattern, func(t *testing.T) {
			dir := t.TempDir()
			writeStore(t, dir, 10, false)
			if err := os.Remove(onlyFile(t, dir, tt.pattern)); err != nil {
				t.Fatal(err)
			}
			s, err := Open(Options{Dir: dir})
			if err == nil {
				s.Close()
			}
			wantCorrupt(t, "open", err, tt.want)
		})
	}
}

// TestDamagedCommittedFile: one torn slot leaves the other; both bad is
// damage.
func TestDamagedCommittedFile(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 5, false)
	path := filepath.Join(dir, committedFile)
	rewrite(t, path, flip(0, 1))
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("open with one slot torn: %v", err)
	}
	s.Close()
	rewrite(t, path, flip(0, 2*slotBytes))
	_, err = Open(Options{Dir: dir})
	wantCorrupt(t, "open with both slots bad", err, "no valid commit counter")
}

// TestTornTailsKeepAcknowledged crashes a store under concurrent writers
// again and again, keeping a random half of the blocks that were not synced
// (torn, zero-filled WAL tails, a stale commit marker): every reopen succeeds
// with every write acknowledged before the crash.
func TestTornTailsKeepAcknowledged(t *testing.T) {
	fs := vfs.NewCrashableMem()
	rng := rand.New(rand.NewPCG(3, 4))
	const writers = 4
	var required [writers]uint64
	for round := 0; round < 20; round++ {
		s, err := Open(Options{Dir: "db", FS: fs})
		if err != nil {
			t.Fatalf("round %d: open after a crash: %v", round, err)
		}
		heads, _ := s.Heads("d")
		for w := range writers {
			if h := heads[Stream{"d", fmt.Sprint("o", w)}].Seq; h < required[w] {
				t.Fatalf("round %d: stream o%d at %d, %d acknowledged", round, w, h, required[w])
			}
		}
		var acked [writers]atomic.Uint64
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var op *crdt.Op
					err := s.Update(context.Background(), func(tx *Txn) (err error) {
						op, err = appendNext(tx, "d", fmt.Sprint("o", w), "k", `1`)
						return err
					})
					if err != nil {
						return // closed
					}
					acked[w].Store(op.Seq)
				}
			}()
		}
		for w := range writers {
			for acked[w].Load() < required[w]+20 {
				time.Sleep(time.Millisecond)
			}
		}
		for w := range writers {
			required[w] = acked[w].Load()
		}
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng})
		s.Close()
		wg.Wait()
		fs = crashed
	}
}
