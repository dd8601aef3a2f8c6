package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func raftEntry(i uint64) *raft.Log {
	return &raft.Log{Index: i, Term: 1 + i/100, Type: raft.LogCommand,
		Data: []byte(fmt.Sprint("entry-", i)), AppendedAt: time.Unix(1700000000, int64(i))}
}

func raftEntries(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, raftEntry(i))
	}
	return out
}

func TestRaftLogEncoding(t *testing.T) {
	cases := []raft.Log{
		{Index: 1},
		{Index: 7, Term: 3, Type: raft.LogConfiguration, Data: []byte("cfg"), Extensions: []byte{0, 1, 2}},
		{Index: 1<<64 - 1, Term: 1<<64 - 1, Type: 255, Data: bytes.Repeat([]byte{0xff}, 1<<16),
			AppendedAt: time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)},
		{Index: 9, Term: 1, Type: raft.LogNoop, AppendedAt: time.Unix(-5, 3)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.Index), func(t *testing.T) {
			enc := appendRaftLog(nil, &c)
			if again := appendRaftLog(nil, &c); !bytes.Equal(enc, again) {
				t.Fatal("encoding is not deterministic")
			}
			var got raft.Log
			if err := decodeRaftLog(c.Index, enc, &got); err != nil {
				t.Fatal(err)
			}
			if got.Index != c.Index || got.Term != c.Term || got.Type != c.Type ||
				!bytes.Equal(got.Data, c.Data) || !bytes.Equal(got.Extensions, c.Extensions) ||
				!got.AppendedAt.Equal(c.AppendedAt) {
				t.Fatalf("round trip: got %+v, want %+v", got, c)
			}
			if c.AppendedAt.IsZero() != got.AppendedAt.IsZero() {
				t.Fatalf("zero time not kept: %v", got.AppendedAt)
			}
			// Every strict prefix is an error naming the index.
			for n := 0; n < len(enc); n += 1 + n/64 {
				err := decodeRaftLog(c.Index, enc[:n], &got)
				if !errors.Is(err, ErrCorruptRaftLog) || !strings.Contains(err.Error(), fmt.Sprint(c.Index)) {
					t.Fatalf("prefix of %d bytes: %v", n, err)
				}
			}
		})
	}

	good := appendRaftLog(nil, &raft.Log{Index: 5, Term: 2, Data: []byte("abc")})
	corrupt := map[string]struct {
		b    []byte
		want string
	}{
		"empty":          {nil, "empty value"},
		"version":        {append([]byte{9}, good[1:]...), "unknown encoding version 9"},
		"trailing":       {append(bytes.Clone(good), 0), "1 trailing bytes"},
		"wrong index":    {appendRaftLog(nil, &raft.Log{Index: 6}), "entry holds index 6"},
		"length":         {[]byte{1, 5, 2, 0, 0x80, 0x80, 0x80, 0x01, 'a'}, "data length 2097152 exceeds"},
		"overlong index": {append([]byte{1}, bytes.Repeat([]byte{0xff}, 11)...), "truncated or overlong index"},
	}
	for name, c := range corrupt {
		t.Run(name, func(t *testing.T) {
			var l raft.Log
			err := decodeRaftLog(5, c.b, &l)
			if !errors.Is(err, ErrCorruptRaftLog) || !strings.Contains(err.Error(), "entry 5: "+c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// checkBounds checks the cached bounds against want and against a fresh
// RaftStore, which reads them from disk.
func checkBounds(t *testing.T, r *RaftStore, first, last uint64) {
	t.Helper()
	for name, rs := range map[string]*RaftStore{"cached": r, "from disk": NewRaftStore(r.s)} {
		f, err := rs.FirstIndex()
		if err != nil {
			t.Fatal(err)
		}
		l, err := rs.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		if f != first || l != last {
			t.Fatalf("%s bounds [%d, %d], want [%d, %d]", name, f, l, first, last)
		}
	}
}

// checkPresent checks that exactly the indexes in want exist in [1, upto].
func checkPresent(t *testing.T, r *RaftStore, upto uint64, want func(uint64) bool) {
	t.Helper()
	for i := uint64(1); i <= upto; i++ {
		var l raft.Log
		err := r.GetLog(i, &l)
		switch {
		case want(i) && err != nil:
			t.Fatalf("GetLog(%d): %v", i, err)
		case want(i) && (l.Index != i || string(l.Data) != fmt.Sprint("entry-", i) || l.Term != 1+i/100):
			t.Fatalf("GetLog(%d) = %+v", i, l)
		case !want(i) && !errors.Is(err, raft.ErrLogNotFound):
			t.Fatalf("GetLog(%d) of a missing entry: %v, want ErrLogNotFound", i, err)
		}
	}
}

func TestRaftLogStore(t *testing.T) {
	type step struct {
		store       [2]uint64 // StoreLogs of this range, if set
		del         [2]uint64 // else DeleteRange of this range
		first, last uint64
		present     func(uint64) bool
	}
	in := func(ranges ...[2]uint64) func(uint64) bool {
		return func(i uint64) bool {
			for _, r := range ranges {
				if i >= r[0] && i <= r[1] {
					return true
				}
			}
			return false
		}
	}
	none := in()
	cases := map[string][]step{
		"empty delete": {
			{del: [2]uint64{1, 10}, present: none},
			{del: [2]uint64{0, 1<<64 - 1}, present: none},
		},
		"store and compact head": {
			{store: [2]uint64{1, 100}, first: 1, last: 100, present: in([2]uint64{1, 100})},
			{del: [2]uint64{1, 40}, first: 41, last: 100, present: in([2]uint64{41, 100})},
			{del: [2]uint64{41, 41}, first: 42, last: 100, present: in([2]uint64{42, 100})},
			{store: [2]uint64{101, 120}, first: 42, last: 120, present: in([2]uint64{42, 120})},
		},
		"truncate tail then append": {
			{store: [2]uint64{1, 50}, first: 1, last: 50, present: in([2]uint64{1, 50})},
			{del: [2]uint64{30, 50}, first: 1, last: 29, present: in([2]uint64{1, 29})},
			{store: [2]uint64{30, 35}, first: 1, last: 35, present: in([2]uint64{1, 35})},
		},
		"delete everything": {
			{store: [2]uint64{5, 9}, first: 5, last: 9, present: in([2]uint64{5, 9})},
			{del: [2]uint64{0, 1<<64 - 1}, present: none},
			{store: [2]uint64{20, 21}, first: 20, last: 21, present: in([2]uint64{20, 21})},
		},
		"gaps": {
			{store: [2]uint64{1, 10}, first: 1, last: 10, present: in([2]uint64{1, 10})},
			{store: [2]uint64{20, 30}, first: 1, last: 30, present: in([2]uint64{1, 10}, [2]uint64{20, 30})},
			{del: [2]uint64{3, 5}, first: 1, last: 30, present: in([2]uint64{1, 2}, [2]uint64{6, 10}, [2]uint64{20, 30})},
			// Deleting the head across a gap finds the next existing entry.
			{del: [2]uint64{1, 12}, first: 20, last: 30, present: in([2]uint64{20, 30})},
			{store: [2]uint64{40, 40}, first: 20, last: 40, present: in([2]uint64{20, 30}, [2]uint64{40, 40})},
			// Deleting the tail across a gap finds the previous one.
			{del: [2]uint64{31, 40}, first: 20, last: 30, present: in([2]uint64{20, 30})},
			{del: [2]uint64{25, 24}, first: 20, last: 30, present: in([2]uint64{20, 30})},
			{del: [2]uint64{50, 60}, first: 20, last: 30, present: in([2]uint64{20, 30})},
		},
		"overwrite": {
			{store: [2]uint64{1, 10}, first: 1, last: 10, present: in([2]uint64{1, 10})},
			{store: [2]uint64{5, 10}, first: 1, last: 10, present: in([2]uint64{1, 10})},
		},
	}
	for name, steps := range cases {
		for _, point := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pointdeletes=%v", name, point), func(t *testing.T) {
				defer func(old bool) { raftPointDeletes = old }(raftPointDeletes)
				raftPointDeletes = point
				s := openMem(t, vfs.NewMem())
				defer s.Close()
				r := NewRaftStore(s)
				checkBounds(t, r, 0, 0)
				for i, st := range steps {
					var err error
					if st.store != [2]uint64{} {
						err = r.StoreLogs(raftEntries(st.store[0], st.store[1]))
					} else {
						err = r.DeleteRange(st.del[0], st.del[1])
					}
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					checkBounds(t, r, st.first, st.last)
					checkPresent(t, r, 130, st.present)
				}
			})
		}
	}
}

func TestRaftStoreLogSingleAndErrors(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	r := NewRaftStore(s)
	var l raft.Log
	if err := r.GetLog(1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty store: %v", err)
	}
	if err := r.StoreLog(raftEntry(3)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, r, 3, 3)
	if err := r.StoreLogs(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreLog(&raft.Log{Index: 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("index 0: %v", err)
	}
	checkBounds(t, r, 3, 3)

	// Corrupt bytes on disk give an error that names the index.
	err := s.Update(context.Background(), func(tx *Txn) error {
		tx.set(raftLogKey(4), []byte{1, 4, 1, 0, 9, 'x'})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = r.GetLog(4, &l)
	if !errors.Is(err, ErrCorruptRaftLog) || err.Error() != "storage: corrupt raft log entry 4: data length 9 exceeds the 1 bytes left" {
		t.Fatalf("corrupt entry: %v", err)
	}
	if !errors.Is(err, ErrCorrupt) || !errors.Is(s.Corruption(), ErrCorrupt) {
		t.Fatalf("corrupt entry: %v, alarm %v; want both ErrCorrupt", err, s.Corruption())
	}

	s.Close()
	if err := r.StoreLog(raftEntry(5)); !errors.Is(err, ErrClosed) {
		t.Fatalf("StoreLog after Close: %v", err)
	}
	if err := r.DeleteRange(1, 4); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeleteRange after Close: %v", err)
	}
	if err := r.GetLog(3, &l); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetLog after Close: %v", err)
	}
	if _, err := r.Get([]byte("k")); !errors.Is(err, ErrClosed) || err.Error() == "not found" {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestRaftStableStore(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	r := NewRaftStore(s)

	// A fresh store: raft must see "no state", exactly as with raft-boltdb.
	v, err := r.Get([]byte("LastVoteCand"))
	if v != nil || err == nil || err.Error() != "not found" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key = %q, %v", v, err)
	}
	n, err := r.GetUint64([]byte("CurrentTerm"))
	if n != 0 || err == nil || err.Error() != "not found" {
		t.Fatalf("GetUint64 of a missing key = %d, %v", n, err)
	}
	has, err := raft.HasExistingState(r, r, raft.NewInmemSnapshotStore())
	if err != nil || has {
		t.Fatalf("HasExistingState on a fresh store = %v, %v", has, err)
	}

	for _, c := range []struct{ key, val string }{
		{"LastVoteCand", "node-1"}, {"", "empty key"}, {"empty", ""}, {"bin\x00\xff", "\x00\x01"},
	} {
		if err := r.Set([]byte(c.key), []byte(c.val)); err != nil {
			t.Fatal(err)
		}
		got, err := r.Get([]byte(c.key))
		if err != nil || got == nil || string(got) != c.val {
			t.Fatalf("Get(%q) = %q, %v; want %q", c.key, got, err, c.val)
		}
	}
	if err := r.Set([]byte("nil"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Get([]byte("nil")); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get after Set(nil) = %q, %v", got, err)
	}
	for _, u := range []uint64{0, 1, 1<<64 - 1} {
		if err := r.SetUint64([]byte("CurrentTerm"), u); err != nil {
			t.Fatal(err)
		}
		if got, err := r.GetUint64([]byte("CurrentTerm")); err != nil || got != u {
			t.Fatalf("GetUint64 = %d, %v; want %d", got, err, u)
		}
	}
	if _, err := r.GetUint64([]byte("LastVoteCand")); err == nil || !strings.Contains(err.Error(), "want 8") {
		t.Fatalf("GetUint64 of a 6-byte value: %v", err)
	}
	// Stable keys and log entries do not collide.
	if err := r.StoreLog(raftEntry(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteRange(0, 1<<64-1); err != nil {
		t.Fatal(err)
	}
	if got, err := r.GetUint64([]byte("CurrentTerm")); err != nil || got != 1<<64-1 {
		t.Fatalf("stable value after deleting the log: %d, %v", got, err)
	}
	has, err = raft.HasExistingState(r, r, raft.NewInmemSnapshotStore())
	if err != nil || !has {
		t.Fatalf("HasExistingState with a term = %v, %v", has, err)
	}
}

// TestRaftStorePersists reopens the store on the same directory, on disk and
// on a crashed in-memory file system that keeps only synced data.
func TestRaftStorePersists(t *testing.T) {
	write := func(t *testing.T, r *RaftStore) {
		if err := r.StoreLogs(raftEntries(1, 300)); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteRange(1, 99); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteRange(251, 300); err != nil {
			t.Fatal(err)
		}
		if err := r.SetUint64([]byte("CurrentTerm"), 42); err != nil {
			t.Fatal(err)
		}
		if err := r.Set([]byte("LastVoteCand"), []byte("seed-2")); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, r *RaftStore) {
		checkBounds(t, r, 100, 250)
		checkPresent(t, r, 300, func(i uint64) bool { return i >= 100 && i <= 250 })
		if term, err := r.GetUint64([]byte("CurrentTerm")); err != nil || term != 42 {
			t.Fatalf("term %d, %v", term, err)
		}
		if v, err := r.Get([]byte("LastVoteCand")); err != nil || string(v) != "seed-2" {
			t.Fatalf("vote %q, %v", v, err)
		}
		var l raft.Log
		if err := r.GetLog(100, &l); err != nil || !l.AppendedAt.Equal(raftEntry(100).AppendedAt) {
			t.Fatalf("entry 100: %+v, %v", l, err)
		}
	}
	t.Run("disk", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		write(t, NewRaftStore(s))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, NewRaftStore(s))
	})
	for _, point := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash/pointdeletes=%v", point), func(t *testing.T) {
			defer func(old bool) { raftPointDeletes = old }(raftPointDeletes)
			raftPointDeletes = point
			fs := vfs.NewCrashableMem()
			s := openMem(t, fs)
			write(t, NewRaftStore(s))
			crashed := fs.CrashClone(vfs.CrashCloneCfg{})
			s.Close()
			s = openMem(t, crashed)
			defer s.Close()
			check(t, NewRaftStore(s))
		})
	}
}

// TestRaftStoreConcurrent runs raft's pattern: appends on one goroutine,
// head compaction on another, readers everywhere; the cached bounds must end
// equal to the disk's.
func TestRaftStoreConcurrent(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	r := NewRaftStore(s)
	const batches, per = 100, 20
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(3)
	go func() {
		defer wg.Done()
		defer close(done)
		for b := uint64(0); b < batches; b++ {
			if err := r.StoreLogs(raftEntries(b*per+1, b*per+per)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() { // compacts the head, keeping 50
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			first, _ := r.FirstIndex()
			last, _ := r.LastIndex()
			if first != 0 && last > first+50 {
				if err := r.DeleteRange(first, last-50); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	go func() { // reads the oldest entry, as raft's metrics do
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			first, err := r.FirstIndex()
			if err != nil {
				t.Error(err)
				return
			}
			var l raft.Log
			if err := r.GetLog(first, &l); err != nil && !errors.Is(err, raft.ErrLogNotFound) {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	first, _ := r.FirstIndex()
	last, _ := r.LastIndex()
	if last != batches*per || first > last-49 {
		t.Fatalf("bounds [%d, %d]", first, last)
	}
	checkBounds(t, r, first, last)
	checkPresent(t, r, last, func(i uint64) bool { return i >= first })
}

// listFSM records the data of every applied command.
type listFSM struct {
	mu      sync.Mutex
	applied [][]byte
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, bytes.Clone(l.Data))
	return len(f.applied)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &listSnapshot{bytes.Join(f.applied, []byte{'\n'})}, nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = nil
	if len(b) > 0 {
		f.applied = bytes.Split(b, []byte{'\n'})
	}
	return nil
}

func (f *listFSM) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

type listSnapshot struct{ b []byte }

func (s *listSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *listSnapshot) Release() {}

// TestRaftClusterOnStore runs a real single-node hashicorp/raft on RaftStore,
// applies 1000 commands, restarts raft on the reopened store and checks that
// it recovers its last index and term and replays the FSM.
func TestRaftClusterOnStore(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compact=%v", compact), func(t *testing.T) {
			testRaftCluster(t, compact)
		})
	}
}

func testRaftCluster(t *testing.T, compact bool) {
	const n = 1000
	dir := t.TempDir()
	snaps := raft.NewInmemSnapshotStore()
	conf := raft.DefaultConfig()
	conf.LocalID = "seed-1"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	conf.SnapshotInterval = time.Hour
	conf.SnapshotThreshold = 1 << 20
	if compact {
		conf.TrailingLogs = 100
		conf.SnapshotThreshold = 200
	}

	start := func(bootstrap bool) (*Store, *RaftStore, *raft.Raft, *listFSM) {
		t.Helper()
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		rs := NewRaftStore(s)
		addr, trans := raft.NewInmemTransport("")
		if bootstrap {
			err := raft.BootstrapCluster(conf, rs, rs, snaps, trans, raft.Configuration{
				Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		fsm := &listFSM{}
		r, err := raft.NewRaft(conf, fsm, rs, rs, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.State() != raft.Leader {
			if time.Now().After(deadline) {
				t.Fatal("no leader after 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return s, rs, r, fsm
	}

	s, rs, r, fsm := start(true)
	futures := make([]raft.ApplyFuture, n)
	for i := range futures {
		futures[i] = r.Apply([]byte(fmt.Sprint("cmd-", i)), 5*time.Second)
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if f.Response().(int) < 1 {
			t.Fatalf("apply %d: response %v", i, f.Response())
		}
	}
	if compact {
		if err := r.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	lastIndex := r.LastIndex()
	term, err := rs.GetUint64([]byte("CurrentTerm"))
	if err != nil || term == 0 {
		t.Fatalf("current term %d, %v", term, err)
	}
	first, _ := rs.FirstIndex()
	if compact && first <= 1 {
		t.Fatalf("log not compacted: first index %d", first)
	}
	if !compact && first != 1 {
		t.Fatalf("first index %d", first)
	}
	var last raft.Log
	if err := rs.GetLog(lastIndex, &last); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Before raft starts again, the reopened store holds what it wrote.
	s2, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rs2 := NewRaftStore(s2)
	if got, _ := rs2.LastIndex(); got != lastIndex {
		t.Fatalf("reopened last index %d, want %d", got, lastIndex)
	}
	if got, _ := rs2.FirstIndex(); got != first {
		t.Fatalf("reopened first index %d, want %d", got, first)
	}
	var l raft.Log
	if err := rs2.GetLog(lastIndex, &l); err != nil || l.Term != last.Term {
		t.Fatalf("reopened last entry %+v, %v; want term %d", l, err, last.Term)
	}
	if has, err := raft.HasExistingState(rs2, rs2, snaps); err != nil || !has {
		t.Fatalf("HasExistingState = %v, %v", has, err)
	}
	s2.Close()

	s, rs, r, fsm2 := start(false)
	defer s.Close()
	defer r.Shutdown()
	if got, _ := rs.GetUint64([]byte("CurrentTerm")); got <= term {
		t.Fatalf("term after restart %d, want > %d", got, term)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if fsm2.len() != n {
		t.Fatalf("replayed %d commands, want %d", fsm2.len(), n)
	}
	fsm.mu.Lock()
	fsm2.mu.Lock()
	for i := range fsm2.applied {
		if want := fmt.Sprint("cmd-", i); string(fsm2.applied[i]) != want || string(fsm.applied[i]) != want {
			t.Fatalf("command %d: replayed %q, first run %q, want %q", i, fsm2.applied[i], fsm.applied[i], want)
		}
	}
	fsm2.mu.Unlock()
	fsm.mu.Unlock()
	if got := r.LastIndex(); got <= lastIndex {
		t.Fatalf("last index after restart %d, want > %d (a new leader appends)", got, lastIndex)
	}
	// Still writable.
	if err := r.Apply([]byte("after restart"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
}
