package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the store into destDir, which must
// not exist, on the store's file system, while writes go on: Pebble's
// checkpoint (SSTables hard-linked where the file system allows, the
// MANIFEST, OPTIONS and WAL copied) after a sync of the WAL, so it holds
// every write acknowledged before the call, and perhaps some after. Group
// commits are atomic batches, so it never holds part of one.
//
// The copy gets its own committedFile holding the commit counter its data
// holds (read back from the copy itself), so Open accepts it as a store and
// still catches a WAL of the copy that later loses writes. It returns the
// version vector the copy holds. Safe for concurrent use; Close waits for a
// checkpoint under way.
func (s *Store) Checkpoint(ctx context.Context, destDir string) (map[Stream]Head, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if err := s.db.Checkpoint(destDir, pebble.WithFlushedWAL()); err != nil {
		if isNoSpace(err) {
			return nil, diskFull(destDir, err)
		}
		return nil, fmt.Errorf("storage: checkpoint into %s: %w", destDir, err)
	}
	heads, commits, err := s.readCheckpoint(destDir)
	if err == nil {
		err = createCommitted(s.fs, destDir, commits)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("storage: checkpoint into %s: %w", destDir, err), s.fs.RemoveAll(destDir))
	}
	return heads, nil
}

// readCheckpoint opens the checkpoint in dir read-only (replaying its WAL in
// memory) and returns its version vector and commit counter.
func (s *Store) readCheckpoint(dir string) (_ map[Stream]Head, _ uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read the checkpoint: %v", r)
		}
	}()
	fatal := func(msg string, _ []any) { panic("pebble cannot continue: " + msg) }
	db, err := pebble.Open(dir, &pebble.Options{FS: s.fs, ReadOnly: true, ErrorIfNotExists: true,
		Merger: stateMerger, Logger: newPebbleLogger(s.logger, fatal)})
	if err != nil {
		return nil, 0, fmt.Errorf("open the checkpoint: %w", err)
	}
	r := reads{r: db, al: &alarm{dir: dir}}
	heads, err := r.Heads("")
	var commits uint64
	if err == nil {
		commits, err = readCommitCounter(r.al, db)
	}
	return heads, commits, errors.Join(err, db.Close())
}
