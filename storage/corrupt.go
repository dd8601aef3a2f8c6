package storage

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// ErrCorrupt is wrapped by every error for data the store cannot read back as
// it was written: a checksum mismatch in an SSTable or the WAL, a missing
// manifest, writes lost from the WAL, a stored value that does not decode.
// The message names what was being read and the file, and says what to do.
var ErrCorrupt = errors.New("storage: data on disk is corrupt")

// alarm latches the first corruption a store met, for status and metrics.
// Its methods are safe for concurrent use.
type alarm struct {
	dir   string
	first atomic.Pointer[error]
	count atomic.Uint64
}

// raise records err, which wraps ErrCorrupt.
func (a *alarm) raise(err error) {
	a.count.Add(1)
	a.first.CompareAndSwap(nil, &err)
}

// advice is what every corruption message tells the operator to do.
func (a *alarm) advice() string {
	return fmt.Sprintf("stop the node, then restore %s from a backup, or move it aside and rebuild the node from its peers (docs/operations.md, \"Damaged storage\")", a.dir)
}

// corrupt returns, and raises, the error for damage found while doing what.
func (a *alarm) corrupt(what string, cause error) error {
	file := ""
	if info := pebble.ExtractDataCorruptionInfo(cause); info != nil {
		// Pebble joins the details to a carrier whose message is noise.
		file, cause = " in "+info.Path, info.Details
	}
	err := fmt.Errorf("%w: %s%s: %v; %s", ErrCorrupt, what, file, cause, a.advice())
	a.raise(err)
	return err
}

// check wraps a Pebble error met while reading key: a corruption becomes
// ErrCorrupt, anything else keeps its cause.
func (a *alarm) check(key []byte, err error) error {
	switch {
	case err == nil:
		return nil
	case pebble.IsCorruptionError(err):
		return a.corrupt(describe(key), err)
	default:
		return fmt.Errorf("storage: %s: %w", describe(key), err)
	}
}

// guard, deferred by a read entry point, turns a panic inside Pebble (which
// its logger's Fatalf or an invariant check raises on damaged data) into an
// ErrCorrupt in *errp.
func (a *alarm) guard(key []byte, errp *error) {
	if r := recover(); r != nil {
		*errp = a.corrupt(describe(key), panicked(r))
	}
}

// panicked is the cause of a panic recovered from Pebble: Fatalf's error,
// or what Pebble panicked with.
func panicked(r any) error {
	if f, ok := r.(fatalPanic); ok {
		return f.cause
	}
	return fmt.Errorf("pebble panicked: %v", r)
}

// Corruption returns the first corruption the store met since it was opened,
// or nil: a read that failed with ErrCorrupt, or damage Pebble found in the
// background (a compaction reading a bad block). The store keeps serving
// what it can read. Safe for concurrent use.
func (s *Store) Corruption() error {
	if p := s.al.first.Load(); p != nil {
		return *p
	}
	return nil
}

// Corruptions returns how many corrupt reads the store met since it was
// opened, for a metric. Safe for concurrent use.
func (s *Store) Corruptions() uint64 { return s.al.count.Load() }

var tableNames = map[byte]string{
	tableEntity:     "entity states",
	tableOp:         "the op log",
	tableHead:       "the version vector",
	tableChange:     "the change feed",
	tableLocal:      "node-local values",
	tableFloor:      "stream floors",
	tableCommit:     "the commit counter",
	tableRaftLog:    "the raft log",
	tableRaftStable: "the raft stable store",
}

// describe names what a read of key (or of keys with this prefix) reads.
func describe(key []byte) string {
	if len(key) == 0 {
		return "reading the store"
	}
	name, ok := tableNames[key[0]]
	if !ok {
		name = fmt.Sprintf("table %q", key[0])
	}
	if len(key) == 1 {
		return "reading " + name
	}
	return fmt.Sprintf("reading %s at key %q", name, key)
}

// noSpaceBackoff is how long a Pebble goroutine whose write failed for want
// of space waits before it tries again.
const noSpaceBackoff = 500 * time.Millisecond

// eventListener counts write stalls (Stats) and latches corruption and
// disk-full errors that Pebble reports from its own goroutines (compactions,
// flushes, table stats), and from reads before they return. Pebble's default DataCorruption handler calls
// Logger.Fatalf, which would crash the node.
func (s *Store) eventListener(log *pebbleLogger) *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: func(pebble.WriteStallBeginInfo) { s.stalls.begin() },
		WriteStallEnd:   s.stalls.end,
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			log.Errorf("on-disk corruption in %s: %v", info.Path, info.Details)
			s.al.raise(fmt.Errorf("%w: %s: %v; %s", ErrCorrupt, info.Path, info.Details, s.al.advice()))
		},
		BackgroundError: func(err error) {
			shown := err
			if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
				shown = info.Details // without the carrier's noise
			}
			log.Errorf("background error: %v", shown)
			switch {
			case pebble.IsCorruptionError(err):
				s.al.corrupt("in a background compaction or flush", err)
			case isNoSpace(err):
				s.fail(err)
				select {
				case s.giveUp <- diskFull(s.al.dir, fmt.Errorf("flushing to disk: %v", err)):
				default:
				}
				// Pebble retries a failed flush at once, for ever (its
				// TODO: "count consecutive flush errors and backoff"), at
				// 100% CPU; this runs on its flush goroutine.
				time.Sleep(noSpaceBackoff)
			}
		},
	}
}
