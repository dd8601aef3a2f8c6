package storage

import (
	"bytes"
	"hash/maphash"

	"github.com/lienthong/lienthong/crdt"
)

// Reading an entity's state before its Update. A local write reads the
// entity's state to build its op, and Update functions run one at a time
// on the committer goroutine: with many writers, that read (a Pebble Get
// and a decode) was a third of the committer's time, which bounds the
// writes per second. PrefetchState does the read on the writer's
// goroutine, before Update, and Txn.StateFrom uses it only when nothing
// can have written the entity since: no group applied after the read
// (those the committer remembers) wrote its key or deleted a range, and
// neither has the group being built or the Txn itself. Otherwise it reads
// again, on the committer, as State does.

// recentGroups is how many applied groups the committer remembers the
// entity keys of; a prefetch older than all of them is read again.
const recentGroups = 8

// recentGroup is what the committer remembers of one applied group.
type recentGroup struct {
	commit uint64
	keys   map[uint64]struct{} // hashes of the entity keys it wrote
	ranges bool                // it deleted a range (a dataset dropped)
}

var keySeed = maphash.MakeSeed()

func keyHash(k []byte) uint64 { return maphash.Bytes(keySeed, k) }

// Prefetched is an entity's state read outside an Update, for one
// Txn.StateFrom.
type Prefetched struct {
	key    []byte
	commit uint64      // groups applied, and visible, before the read
	state  *crdt.State // nil: nothing to use (StateFrom reads)
}

// PrefetchState reads the state of entity (typ, key) in dataset as the
// store holds it now, for Txn.StateFrom in a later Update. A read that
// fails leaves nothing to use: StateFrom then reads again, and reports the
// error. Safe for concurrent use.
func (s *Store) PrefetchState(typ, key, dataset string) Prefetched {
	k := entityKey(typ, key, dataset)
	p := Prefetched{key: k, commit: s.applied.Load()}
	b, err := s.al.get(s.db, k)
	switch {
	case err == ErrNotFound:
		p.state = &crdt.State{}
	case err == nil:
		if st, err := crdt.DecodeState(b); err == nil {
			p.state = st
		}
	}
	return p
}

// StateFrom returns what State(typ, key, dataset) returns, from p when
// nothing has written the entity since p was read. p serves once: the
// caller may change the state it returns.
func (tx *Txn) StateFrom(p *Prefetched, typ, key, dataset string) (*crdt.State, error) {
	k := entityKey(typ, key, dataset)
	st := p.state
	p.state = nil
	if st == nil || !bytes.Equal(p.key, k) || !tx.unwrittenSince(k, p.commit) {
		tx.s.prefetch.misses++
		return tx.State(typ, key, dataset)
	}
	tx.s.prefetch.hits++
	return st, nil
}

// unwrittenSince reports whether no write to key k is visible to tx that
// was not visible to a read after group commit since was applied.
func (tx *Txn) unwrittenSince(k []byte, since uint64) bool {
	if _, ok := tx.overlay[string(k)]; ok || len(tx.ranges) > 0 {
		return false
	}
	if _, ok := tx.g.written[string(k)]; ok || tx.g.rangeDeleted(k) {
		return false
	}
	s := tx.s
	if since == s.commits {
		return true
	}
	if len(s.recent) == 0 || s.recent[0].commit > since+1 {
		return false // a group after the read is forgotten
	}
	h := keyHash(k)
	for _, r := range s.recent {
		if r.commit <= since {
			continue
		}
		if _, ok := r.keys[h]; ok || r.ranges {
			return false
		}
	}
	return true
}

// remember records the entity keys of group g, just applied as commit
// number s.commits. Committer goroutine only.
func (s *Store) remember(g *building) {
	r := recentGroup{commit: s.commits, keys: make(map[uint64]struct{}, len(g.reqs)), ranges: len(g.ranges) > 0}
	for k := range g.written {
		if len(k) > 0 && k[0] == tableEntity {
			r.keys[keyHash([]byte(k))] = struct{}{}
		}
	}
	if len(s.recent) == recentGroups {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	s.recent = append(s.recent, r)
	s.applied.Store(s.commits)
}
