package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Tables of the Raft log and stable store. They belong in keys.go with the
// others; they are defined here until the lead moves them.
const (
	tableRaftLog    = 'r' // r index(8, BE) -> raft.Log (encodeRaftLog)
	tableRaftStable = 's' // s key          -> raft stable value (SetUint64: 8 bytes, BE)
)

func raftLogKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tableRaftLog}, index)
}

func raftStableKey(key []byte) []byte {
	return append([]byte{tableRaftStable}, key...)
}

// ErrCorruptRaftLog is wrapped by the error GetLog returns for an entry whose
// stored bytes do not decode; the message names the index. errors.Is(err,
// ErrCorrupt) is true.
var ErrCorruptRaftLog error = corruptRaftLog{}

type corruptRaftLog struct{}

func (corruptRaftLog) Error() string        { return "storage: corrupt raft log entry" }
func (corruptRaftLog) Is(target error) bool { return target == ErrCorrupt }

// errRaftNotFound is what the StableStore returns for a missing key. Raft
// (NewRaft, HasExistingState, vote handling) recognises a missing term or
// vote only by err.Error() == "not found", as raft-boltdb returns it, so the
// message is exactly that. errors.Is(err, ErrNotFound) is true.
type raftNotFound struct{}

func (raftNotFound) Error() string        { return "not found" }
func (raftNotFound) Is(target error) bool { return target == ErrNotFound }

// ErrRaftKeyNotFound is returned by RaftStore.Get and GetUint64 for a key
// never set. Its message is "not found", which hashicorp/raft requires.
var ErrRaftKeyNotFound error = raftNotFound{}

// RaftStore is hashicorp/raft's LogStore and StableStore on a Store: log
// entries and the current term and vote are written through Update, so they
// share the data's WAL and group commit, and every write returns synced.
//
// FirstIndex and LastIndex are answered from memory: the bounds are read
// from the first and last log keys at first use and kept up to date by
// StoreLogs and DeleteRange. So the log table must only be written through
// one RaftStore per Store.
//
// All methods are safe for concurrent use.
type RaftStore struct {
	s *Store

	// wmu orders StoreLogs and DeleteRange (raft calls DeleteRange from its
	// snapshot goroutine), so the bounds follow the order of the writes.
	wmu sync.Mutex

	mu struct {
		sync.Mutex
		loaded      bool
		first, last uint64 // 0, 0: empty
	}
}

var (
	_ raft.LogStore    = (*RaftStore)(nil)
	_ raft.StableStore = (*RaftStore)(nil)
)

// NewRaftStore returns the Raft log and stable store kept in s. Create one per
// Store and share it: it caches the log's bounds.
func NewRaftStore(s *Store) *RaftStore { return &RaftStore{s: s} }

// bounds returns the first and last index, loading them if needed.
func (r *RaftStore) bounds() (first, last uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mu.loaded {
		first, err := r.seek(0, false)
		if err != nil {
			return 0, 0, err
		}
		last, err := r.seek(^uint64(0), true)
		if err != nil {
			return 0, 0, err
		}
		r.mu.first, r.mu.last, r.mu.loaded = first, last, true
	}
	return r.mu.first, r.mu.last, nil
}

// seek returns the index of the first log key at or after index, or with
// reverse the last at or before it; 0 if there is none.
func (r *RaftStore) seek(index uint64, reverse bool) (_ uint64, err error) {
	if err := r.closed(); err != nil {
		return 0, err
	}
	prefix := []byte{tableRaftLog}
	defer r.s.al.guard(prefix, &err)
	it, err := r.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, r.s.al.check(prefix, err)
	}
	defer it.Close()
	var ok bool
	if reverse {
		if index == ^uint64(0) {
			ok = it.Last()
		} else {
			ok = it.SeekLT(raftLogKey(index + 1))
		}
	} else {
		ok = it.SeekGE(raftLogKey(index))
	}
	if !ok {
		if err := it.Error(); err != nil {
			return 0, r.s.al.check(prefix, err)
		}
		return 0, nil
	}
	k := it.Key()
	if len(k) != 9 {
		err := fmt.Errorf("%w: malformed key %x", ErrCorruptRaftLog, k)
		r.s.al.raise(err)
		return 0, err
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// closed returns ErrClosed once the Store is closing: Pebble panics on reads
// after Close.
func (r *RaftStore) closed() error {
	select {
	case <-r.s.closing:
		return ErrClosed
	default:
		return nil
	}
}

// invalidate makes the next call reload the bounds from disk, after a write
// whose outcome is unknown.
func (r *RaftStore) invalidate() {
	r.mu.Lock()
	r.mu.loaded = false
	r.mu.Unlock()
}

// FirstIndex returns the first index in the log; 0 if it is empty.
func (r *RaftStore) FirstIndex() (uint64, error) {
	first, _, err := r.bounds()
	return first, err
}

// LastIndex returns the last index in the log; 0 if it is empty.
func (r *RaftStore) LastIndex() (uint64, error) {
	_, last, err := r.bounds()
	return last, err
}

// GetLog reads entry index into log, or returns raft.ErrLogNotFound.
func (r *RaftStore) GetLog(index uint64, log *raft.Log) error {
	if err := r.closed(); err != nil {
		return err
	}
	b, err := r.s.al.get(r.s.db, raftLogKey(index))
	if errors.Is(err, ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("storage: raft log %d: %w", index, err)
	}
	if err := decodeRaftLog(index, b, log); err != nil {
		r.s.al.raise(err)
		return err
	}
	return nil
}

// StoreLog stores one entry, synced.
func (r *RaftStore) StoreLog(log *raft.Log) error { return r.StoreLogs([]*raft.Log{log}) }

// StoreLogs stores entries in one synced write; an entry replaces any with
// the same index. Indexes need not be contiguous.
func (r *RaftStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	writes := make([]kv, len(logs))
	lo, hi := logs[0].Index, logs[0].Index
	for i, l := range logs {
		if l.Index == 0 {
			return fmt.Errorf("%w: raft log index 0 (indexes start at 1; 0 means an empty log)", ErrInvalid)
		}
		writes[i] = kv{k: raftLogKey(l.Index), v: appendRaftLog(nil, l)}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if _, _, err := r.bounds(); err != nil {
		return err
	}
	err := r.s.Update(context.Background(), func(tx *Txn) error {
		for _, w := range writes {
			tx.set(w.k, w.v)
		}
		return nil
	})
	if err != nil {
		r.invalidate()
		return err
	}
	r.mu.Lock()
	if r.mu.first == 0 || lo < r.mu.first {
		r.mu.first = lo
	}
	r.mu.last = max(r.mu.last, hi)
	r.mu.Unlock()
	return nil
}

// DeleteRange deletes the entries from from to to inclusive in one synced
// write. Raft calls it to drop the head of the log after a snapshot and to
// drop a conflicting tail.
func (r *RaftStore) DeleteRange(from, to uint64) error {
	if from > to {
		return nil
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	first, last, err := r.bounds()
	if err != nil {
		return err
	}
	// Only keys within [first, last] exist: clamp, so that the cost follows
	// the log, not the arguments (RecoverCluster passes 0 as min).
	lo, hi := max(from, first), min(to, last)
	if first == 0 || lo > hi {
		return nil
	}
	if err := r.deleteRange(lo, hi); err != nil {
		r.invalidate()
		return err
	}
	switch {
	case lo == first && hi == last:
		first, last = 0, 0
	case lo == first:
		if first, err = r.seek(hi+1, false); err != nil {
			r.invalidate()
			return err
		}
	case hi == last:
		if last, err = r.seek(lo-1, true); err != nil {
			r.invalidate()
			return err
		}
	}
	r.mu.Lock()
	r.mu.first, r.mu.last = first, last
	if first == 0 || last == 0 {
		r.mu.first, r.mu.last = 0, 0
	}
	r.mu.Unlock()
	return nil
}

// raftPointDeletes makes deleteRange write one point tombstone per entry
// instead of a range tombstone; BenchmarkRaftDeleteRange compares them.
var raftPointDeletes = false

// deleteRange deletes [lo, hi] in one synced Update.
//
// It writes one Pebble range tombstone (Txn.ranges).
func (r *RaftStore) deleteRange(lo, hi uint64) error {
	if raftPointDeletes {
		return r.s.Update(context.Background(), func(tx *Txn) error {
			for i := lo; ; i++ {
				tx.set(raftLogKey(i), nil)
				if i == hi {
					return nil
				}
			}
		})
	}
	end := []byte{tableRaftLog + 1}
	if hi != ^uint64(0) {
		end = raftLogKey(hi + 1)
	}
	return r.s.Update(context.Background(), func(tx *Txn) error {
		tx.ranges = append(tx.ranges, kv{k: raftLogKey(lo), v: end})
		return nil
	})
}

// Set stores a stable value, synced. A nil val is stored as empty.
func (r *RaftStore) Set(key, val []byte) error {
	if val == nil {
		val = []byte{} // tx.set deletes on nil
	}
	k := raftStableKey(key)
	v := bytes.Clone(val)
	return r.s.Update(context.Background(), func(tx *Txn) error {
		tx.set(k, v)
		return nil
	})
}

// Get returns a stable value, or ErrRaftKeyNotFound (message "not found").
func (r *RaftStore) Get(key []byte) ([]byte, error) {
	if err := r.closed(); err != nil {
		return nil, err
	}
	v, err := r.s.al.get(r.s.db, raftStableKey(key))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrRaftKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: raft stable %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// SetUint64 stores val as 8 bytes, big-endian, synced.
func (r *RaftStore) SetUint64(key []byte, val uint64) error {
	return r.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a value stored by SetUint64. A missing key gives 0 and
// ErrRaftKeyNotFound, as raft-boltdb does; raft treats that as 0.
func (r *RaftStore) GetUint64(key []byte) (uint64, error) {
	v, err := r.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("storage: raft stable %q: %d bytes, want 8 for a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// raftLogVersion is the first byte of every encoded entry.
const raftLogVersion = 1

// appendRaftLog encodes l:
//
//	version(1) uvarint(Index) uvarint(Term) Type(1)
//	uvarint(len Data) Data uvarint(len Extensions) Extensions
//	varint(AppendedAt unix nanoseconds; 0 for the zero time)
//
// The encoding is deterministic: equal entries give equal bytes. Empty and
// nil Data or Extensions are the same, and decode as nil. AppendedAt keeps
// nanoseconds and loses the location and monotonic reading; an AppendedAt of
// exactly the Unix epoch decodes as the zero time.
func appendRaftLog(dst []byte, l *raft.Log) []byte {
	dst = append(dst, raftLogVersion)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	var nanos int64
	if !l.AppendedAt.IsZero() {
		nanos = l.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(dst, nanos)
}

// decodeRaftLog decodes the entry stored under index into l. Data and
// Extensions alias b.
func decodeRaftLog(index uint64, b []byte, l *raft.Log) error {
	bad := func(what string) error {
		return fmt.Errorf("%w %d: %s", ErrCorruptRaftLog, index, what)
	}
	if len(b) == 0 {
		return bad("empty value")
	}
	if b[0] != raftLogVersion {
		return bad(fmt.Sprintf("unknown encoding version %d", b[0]))
	}
	b = b[1:]
	uvarint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, bad("truncated or overlong " + what)
		}
		b = b[n:]
		return v, nil
	}
	bytesField := func(what string) ([]byte, error) {
		n, err := uvarint(what + " length")
		if err != nil {
			return nil, err
		}
		if n > uint64(len(b)) {
			return nil, bad(fmt.Sprintf("%s length %d exceeds the %d bytes left", what, n, len(b)))
		}
		v := b[:n:n]
		b = b[n:]
		if n == 0 {
			v = nil
		}
		return v, nil
	}
	idx, err := uvarint("index")
	if err != nil {
		return err
	}
	if idx != index {
		return bad(fmt.Sprintf("entry holds index %d", idx))
	}
	term, err := uvarint("term")
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return bad("truncated before type")
	}
	typ := raft.LogType(b[0])
	b = b[1:]
	data, err := bytesField("data")
	if err != nil {
		return err
	}
	ext, err := bytesField("extensions")
	if err != nil {
		return err
	}
	nanos, n := binary.Varint(b)
	if n <= 0 {
		return bad("truncated or overlong appended-at time")
	}
	if n != len(b) {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)-n))
	}
	*l = raft.Log{Index: idx, Term: term, Type: typ, Data: data, Extensions: ext}
	if nanos != 0 {
		l.AppendedAt = time.Unix(0, nanos)
	}
	return nil
}
