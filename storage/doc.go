// Package storage keeps a node's data in Pebble: per-dataset entity states,
// the op log of every stream, version vectors, the change feed and a small
// node-local key space for metadata. docs/storage.md documents the key layout.
//
// Writes go through Update, which runs callers' functions one after another
// on a single committer goroutine and commits them in groups: one Pebble
// batch and one WAL sync for many writers. Update returns only once the
// group is synced. Every file goes through the vfs.FS in Options, so tests and
// the simulator run on vfs.NewMem().
//
// storage imports crdt and nothing else from lienthong.
package storage
