package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lienthong/lienthong/crdt"
)

// request is one Update, Apply or Sync waiting for its group.
type request struct {
	fn      func(*Txn) error // nil for a Sync
	applied bool             // done once applied (Apply), not once synced
	err     error
	done    chan struct{}
}

// group is the requests that share one batch and one sync.
type group struct {
	batch      *pebble.Batch
	reqs       []*request
	lastChange uint64
	commit     uint64          // the commit counter this group wrote
	heads      map[string]Head // moved by the group, by head key
	drops      []string        // head key prefixes of datasets dropped
}

// Update runs fn on the committer goroutine, together with the functions of
// concurrent callers, and returns once fn's writes are synced to disk. If fn
// returns an error, none of its writes happen and Update returns that error.
//
// fn must not block or call Update; it sees the writes of the functions that
// ran before it in the same group. Update blocks until the group is synced
// even if ctx ends after fn was queued: the write may already be on disk.
func (s *Store) Update(ctx context.Context, fn func(*Txn) error) error {
	return s.submit(ctx, &request{fn: fn})
}

// Apply is Update for writes that another node still holds if a crash takes
// them back (replicated ops): it returns once fn's writes are applied and
// visible to reads, without waiting for their sync. They reach the disk
// with the next sync, which the store starts as soon as the disk is free
// (with Options.DeferSyncs, at the next Update or Sync). Until then Durable,
// DurableHeads and Changes do not count them, and a crash takes back whole
// groups of them, never part of one.
func (s *Store) Apply(ctx context.Context, fn func(*Txn) error) error {
	return s.submit(ctx, &request{fn: fn, applied: true})
}

// Sync returns once every write applied before it is synced.
func (s *Store) Sync(ctx context.Context) error { return s.submit(ctx, &request{}) }

func (s *Store) submit(ctx context.Context, r *request) error {
	if errp := s.failed.Load(); errp != nil {
		return *errp
	}
	r.done = make(chan struct{})
	// closeMu orders this send before Close's drain: a request sent while
	// the store is open is committed; none is sent after.
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	<-r.done
	return r.err
}

func (s *Store) commitLoop() {
	defer s.wg.Done()
	defer close(s.syncs)
	defer s.recoverFatal()
	for {
		// Groups applied without a sync are synced as soon as the sync
		// stage is free, even if nothing else comes.
		var idle chan struct{}
		if s.unsynced != nil && !s.deferSyncs {
			idle = s.idle
		}
		var first *request
		select {
		case first = <-s.reqs:
		case <-idle:
			s.newGroup().commit(true)
			continue
		case <-s.closing:
			// Finish what was queued before Close, and sync it all.
			for {
				select {
				case r := <-s.reqs:
					g := s.newGroup()
					g.add(r)
					g.commit(true)
				default:
					if s.unsynced != nil {
						s.newGroup().commit(true)
					}
					return
				}
			}
		}
		g := s.newGroup()
		g.add(first)
		// Writers that arrive while the previous group syncs join this
		// one, so that one sync covers them all: the group is cut when the
		// sync stage is free. Functions run as they arrive, so building
		// overlaps the sync. A group that no caller waits to see synced
		// (Apply) is cut as soon as nothing more is queued: it is applied
		// at once, and synced now if the stage is free, else later.
		synced := false
	gather:
		for len(g.reqs) < s.maxGroup {
			select {
			case r := <-s.reqs:
				g.add(r)
				continue
			default:
			}
			if g.waiting == 0 {
				if !s.deferSyncs {
					select {
					case <-s.idle:
						synced = true
					default:
					}
				}
				break gather
			}
			select {
			case r := <-s.reqs:
				g.add(r)
			case <-s.idle:
				synced = true
				break gather
			}
		}
		g.commit(synced)
	}
}

// building is a group being built, on the committer goroutine.
//
// Its batch is not indexed: a function reads what earlier functions of the
// group wrote from written and ranges, a map of the group's last write of
// each key. An indexed batch kept a skiplist of every key instead, and
// inserting into it and seeking it took half of the committer's time
// (docs/architecture.md, "The group commit").
type building struct {
	s       *Store
	b       *pebble.Batch
	reqs    []*request
	waiting int             // requests that wait for the sync (Update, Sync), not Apply
	dirty   map[string]Head // heads moved by the group, written once each
	drops   []string
	written map[string]*pending
	ranges  []kv // range deletions [k, v) of the group, in order
}

// pending is what the group did to one key so far: set it to v, delete it,
// or neither (the store's value stands); then merge each operand in ops.
type pending struct {
	v       []byte
	set     bool
	deleted bool
	ops     [][]byte
}

func (s *Store) newGroup() *building {
	return &building{s: s, b: s.db.NewBatch(), dirty: map[string]Head{}, written: map[string]*pending{}}
}

// get reads key as the group's batch, once applied, would leave it.
func (g *building) get(key []byte) ([]byte, error) {
	p, ok := g.written[string(key)]
	if !ok {
		if g.rangeDeleted(key) {
			return nil, ErrNotFound
		}
		return g.s.al.get(g.s.db, key)
	}
	var v []byte
	switch {
	case p.set:
		v = p.v
	case !p.deleted:
		base, err := g.s.al.get(g.s.db, key)
		if err != nil && err != ErrNotFound {
			return nil, err
		}
		v = base
	}
	for _, op := range p.ops {
		if v == nil {
			v = op
			continue
		}
		var err error
		if v, err = mergeStates(key, v, op); err != nil {
			return nil, err
		}
	}
	if v == nil {
		return nil, ErrNotFound
	}
	return v, nil
}

func (g *building) rangeDeleted(key []byte) bool {
	for _, r := range g.ranges {
		if bytes.Compare(key, r.k) >= 0 && bytes.Compare(key, r.v) < 0 {
			return true
		}
	}
	return false
}

// write records w in the batch and in written.
func (g *building) write(w kv) {
	p := g.written[string(w.k)]
	switch {
	case w.merge:
		g.b.Merge(w.k, w.v, nil)
		if p == nil {
			p = &pending{deleted: g.rangeDeleted(w.k)}
			g.written[string(w.k)] = p
		}
		p.ops = append(p.ops, w.v)
	case w.v == nil:
		g.b.Delete(w.k, nil)
		g.written[string(w.k)] = &pending{deleted: true}
	default:
		g.b.Set(w.k, w.v, nil)
		g.written[string(w.k)] = &pending{v: w.v, set: true}
	}
}

// deleteRange records the range deletion [from, to) in the batch and in
// written.
func (g *building) deleteRange(from, to []byte) {
	g.b.DeleteRange(from, to, nil)
	for k, p := range g.written {
		if k >= string(from) && k < string(to) {
			*p = pending{deleted: true}
		}
	}
	g.ranges = append(g.ranges, kv{k: from, v: to})
}

// add runs r's function into the group's batch.
func (g *building) add(r *request) {
	g.reqs = append(g.reqs, r)
	if !r.applied {
		g.waiting++
	}
	if errp := g.s.failed.Load(); errp != nil {
		r.err = *errp
		return
	}
	if r.fn == nil {
		return // a Sync
	}
	tx := &Txn{s: g.s, g: g, overlay: map[string]int{}, heads: map[string]Head{}}
	if r.err = r.fn(tx); r.err == nil {
		tx.flush(g.dirty)
		g.drops = append(g.drops, tx.dropped...)
	}
}

// commit applies the group's batch. With synced, the group (with the groups
// applied before it without a sync) goes to the sync stage, which syncLoop
// awaits while the next group builds; the caller holds the stage's token
// (or is closing the store). Without, the group is applied without a sync
// and waits in s.unsynced for the next synced group. A group that writes
// nothing gives back its turn.
func (g *building) commit(synced bool) {
	s, b := g.s, g.b
	if !g.apply(synced) {
		if s.failed.Load() != nil {
			s.unsynced = nil // never synced now: the committer must not try again
		}
		b.Close()
		for _, r := range g.reqs {
			close(r.done)
		}
		if synced {
			select {
			case s.idle <- struct{}{}:
			default:
			}
		}
		return
	}
	s.mu.Lock()
	moveHeads(s.mu.applied, g.dirty, g.drops)
	s.mu.Unlock()
	s.appliedChange.Store(s.nextChange - 1)
	s.remember(g)
	u := s.unsynced
	if u == nil {
		u = &group{heads: map[string]Head{}}
	}
	u.absorb(g.dirty, g.drops)
	u.lastChange, u.commit = s.nextChange-1, s.commits
	for _, r := range g.reqs {
		if r.applied || r.err != nil {
			close(r.done) // r.applied: done once applied; r.err: nothing of it was written
		} else {
			u.reqs = append(u.reqs, r)
		}
	}
	if !synced {
		b.Close() // applied: Pebble holds its writes
		s.unsynced = u
		return
	}
	s.unsynced = nil
	u.batch = b
	s.syncs <- u
}

// absorb adds a later group's heads and drops to u's.
func (u *group) absorb(heads map[string]Head, drops []string) {
	for _, p := range drops {
		for k := range u.heads {
			if strings.HasPrefix(k, p) {
				delete(u.heads, k)
			}
		}
	}
	maps.Copy(u.heads, heads)
	u.drops = append(u.drops, drops...)
}

// apply writes the group's heads and applies its batch, asking for a sync
// if synced; false if there is nothing to apply or sync (every request is
// then complete, with its error set).
func (g *building) apply(synced bool) bool {
	s, b := g.s, g.b
	if errp := s.failed.Load(); errp != nil {
		for _, r := range g.reqs {
			if r.err == nil {
				r.err = *errp
			}
		}
		return false
	}
	for k, h := range g.dirty {
		b.Set([]byte(k), appendHead(nil, h), nil)
	}
	if b.Empty() && (!synced || s.unsynced == nil) {
		return false
	}
	s.commits++
	b.Set(commitKey, binary.BigEndian.AppendUint64(nil, s.commits), nil)
	var err error
	if synced {
		err = s.db.ApplyNoSyncWait(b, pebble.Sync)
	} else {
		err = s.db.Apply(b, pebble.NoSync)
	}
	if err != nil {
		s.fail(err)
		for _, r := range g.reqs {
			if r.err == nil {
				r.err = *s.failed.Load()
			}
		}
		return false
	}
	return true
}

// moveHeads updates a version vector with a group's drops, then its heads.
func moveHeads(m map[Stream]Head, heads map[string]Head, drops []string) {
	for _, p := range drops {
		for st := range m {
			if strings.HasPrefix(string(headKey(st.Dataset, st.Origin)), p) {
				delete(m, st)
			}
		}
	}
	for k, h := range heads {
		if st, err := streamOf([]byte(k)); err == nil {
			m[st] = h
		}
	}
}

func (s *Store) syncLoop() {
	defer s.wg.Done()
	defer s.recoverFatal()
	for g := range s.syncs {
		err := g.batch.SyncWait()
		g.batch.Close()
		if err != nil {
			s.fail(err)
			ack(g.reqs, *s.failed.Load())
		} else {
			// The group is durable whatever happens to the marker; a
			// marker that cannot be written is a disk failing.
			if err := s.committed.write(g.commit); err != nil {
				s.fail(fmt.Errorf("record group commit %d in %s: %w", g.commit, committedFile, err))
			}
			s.mu.Lock()
			moveHeads(s.mu.synced, g.heads, g.drops)
			s.durable.Store(g.lastChange) // after the heads: Durable never runs ahead of DurableHeads
			close(s.mu.notify)
			s.mu.notify = make(chan struct{})
			s.mu.Unlock()
			for _, r := range g.reqs {
				close(r.done)
			}
		}
		// The sync stage is free: the committer cuts its next group.
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// Err returns the error that put the store in the failed state (wrapping
// ErrFailed and naming the disk error), or nil while it works. Once failed,
// a store stays failed until it is reopened. Safe for concurrent use.
func (s *Store) Err() error {
	if errp := s.failed.Load(); errp != nil {
		return *errp
	}
	return nil
}

// fail puts the store in the failed state after a disk error; a full disk
// also makes it ErrDiskFull.
func (s *Store) fail(cause error) { s.failNoSpace(cause, isNoSpace(cause)) }

// failNoSpace is fail for a cause that does not carry ENOSPC itself.
func (s *Store) failNoSpace(cause error, noSpace bool) error {
	err := fmt.Errorf("%w: %v", ErrFailed, cause)
	if noSpace {
		err = fmt.Errorf("%w: %w at %s: %v", ErrFailed, ErrDiskFull, s.al.dir, cause)
	}
	if s.failed.CompareAndSwap(nil, &err) {
		s.logger.Error("storage write failed; refusing further writes", "err", cause.Error())
	}
	return err
}

// ack completes requests with err, except those whose function failed.
func ack(reqs []*request, err error) {
	for _, r := range reqs {
		if r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// Txn is the view of one Update function: reads see the store, the writes of
// earlier functions in the group and the Txn's own writes. A Txn is valid
// only during its function and must not be used from other goroutines.
type Txn struct {
	s       *Store
	g       *building
	writes  []kv
	ranges  []kv            // range deletions [k, v), applied before writes
	overlay map[string]int  // key -> index in writes
	heads   map[string]Head // stream key -> head after this Txn's appends
	dropped []string        // head key prefixes of datasets dropped
	changes []Change
}

// kv is one write of a Txn: a set (a nil v deletes) or, with merge, a
// merge operand (an entity state, see stateMerger).
type kv struct {
	k, v  []byte
	merge bool
}

func (tx *Txn) get(key []byte) ([]byte, error) {
	i, ok := tx.overlay[string(key)]
	if !ok {
		return tx.g.get(key)
	}
	w := tx.writes[i]
	if !w.merge {
		return w.v, nil
	}
	// A merge operand on top of what the group and the store hold.
	base, err := tx.g.get(key)
	if err == ErrNotFound {
		return w.v, nil
	}
	if err != nil {
		return nil, err
	}
	return mergeStates(key, base, w.v)
}

func (tx *Txn) set(key, value []byte) {
	if i, ok := tx.overlay[string(key)]; ok {
		tx.writes[i] = kv{k: key, v: value}
		return
	}
	tx.overlay[string(key)] = len(tx.writes)
	tx.writes = append(tx.writes, kv{k: key, v: value})
}

// merge adds the encoded state operand to the state at key.
func (tx *Txn) merge(key, operand []byte) error {
	i, ok := tx.overlay[string(key)]
	if !ok {
		tx.overlay[string(key)] = len(tx.writes)
		tx.writes = append(tx.writes, kv{k: key, v: operand, merge: true})
		return nil
	}
	w := &tx.writes[i]
	if w.v == nil && !w.merge { // deleted in this Txn: the operand is all there is
		*w = kv{k: key, v: operand}
		return nil
	}
	v, err := mergeStates(key, w.v, operand)
	if err != nil {
		return err
	}
	w.v = v
	return nil
}

// flush moves the Txn's writes into the group batch and its heads into
// dirty, which the committer writes once per group. Called on the committer
// goroutine once the function succeeded.
func (tx *Txn) flush(dirty map[string]Head) {
	for _, r := range tx.ranges {
		tx.g.deleteRange(r.k, r.v)
	}
	for _, w := range tx.writes {
		tx.g.write(w)
	}
	for _, p := range tx.dropped {
		for k := range tx.s.heads {
			if strings.HasPrefix(k, p) {
				delete(tx.s.heads, k)
				delete(dirty, k)
			}
		}
	}
	for k, h := range tx.heads {
		tx.s.heads[k] = h
		dirty[k] = h
	}
	for _, c := range tx.changes {
		c.Seq = tx.s.nextChange
		tx.s.nextChange++
		tx.g.b.Set(changeKey(c.Seq), appendChange(nil, c), nil)
	}
}

// State returns the state of entity (typ, key) in dataset: the empty State if
// it was never written there. The caller owns the result.
func (tx *Txn) State(typ, key, dataset string) (*crdt.State, error) {
	b, err := tx.get(entityKey(typ, key, dataset))
	if err == ErrNotFound {
		return &crdt.State{}, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := crdt.DecodeState(b)
	if err != nil {
		return nil, tx.s.al.corrupt(describe(entityKey(typ, key, dataset)), err)
	}
	return st, nil
}

// Head returns the head of stream (dataset, origin); the zero Head if empty.
func (tx *Txn) Head(dataset, origin string) (Head, error) {
	k := string(headKey(dataset, origin))
	if h, ok := tx.heads[k]; ok {
		return h, nil
	}
	if h, ok := tx.s.heads[k]; ok {
		return h, nil
	}
	b, err := tx.get([]byte(k))
	if err == ErrNotFound {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, err
	}
	h, err := decodeHead(b)
	if err != nil {
		return Head{}, tx.s.al.corrupt(describe([]byte(k)), err)
	}
	tx.s.heads[k] = h
	return h, nil
}

// Append logs op at the end of its stream, stores st as the entity's new
// state in op's dataset and advances the stream's head, all in this Txn.
// It returns ErrSequence, writing nothing, unless op.Seq is the head's
// successor and op.Prev the head's hash. It returns the op's hash.
//
// REQUIRES: st is the entity's state with op applied.
func (tx *Txn) Append(op *crdt.Op, st *crdt.State) ([32]byte, error) {
	return tx.appendOp(op, st, false)
}

// AppendMerge is Append for an op whose entity state this Txn has not read:
// the op's delta is merged into the state (stateMerger) without reading it.
// The replication receive path applies ops this way.
func (tx *Txn) AppendMerge(op *crdt.Op) ([32]byte, error) {
	return tx.AppendDelta(op, op.Delta())
}

// AppendDelta is AppendMerge for a caller that has op's delta already (an
// owner's blind put, which checked its limits on it).
//
// REQUIRES: delta is op.Delta(), unmodified.
func (tx *Txn) AppendDelta(op *crdt.Op, delta *crdt.State) ([32]byte, error) {
	return tx.appendOp(op, delta, true)
}

func (tx *Txn) appendOp(op *crdt.Op, st *crdt.State, merge bool) ([32]byte, error) {
	for _, n := range [...][2]string{{"dataset", op.Dataset}, {"origin", op.Origin}, {"entity type", op.Type}, {"key", op.Key}} {
		if err := checkName(n[0], n[1]); err != nil {
			return [32]byte{}, err
		}
	}
	head, err := tx.Head(op.Dataset, op.Origin)
	if err != nil {
		return [32]byte{}, err
	}
	if op.Seq != head.Seq+1 || op.Prev != head.Hash {
		return [32]byte{}, fmt.Errorf("%w: %s/%s has seq %d, got op %d with prev %x",
			ErrSequence, op.Dataset, op.Origin, head.Seq, op.Seq, op.Prev[:4])
	}
	enc := crdt.AppendOp(nil, op)
	hash := sha256.Sum256(enc)
	ek, state := entityKey(op.Type, op.Key, op.Dataset), crdt.AppendState(nil, st)
	if merge {
		if err := tx.merge(ek, state); err != nil {
			return [32]byte{}, err
		}
	} else {
		tx.set(ek, state)
	}
	tx.set(opKey(op.Dataset, op.Origin, op.Seq), enc)
	// The head itself is written once per group, at the end (see commit).
	tx.heads[string(headKey(op.Dataset, op.Origin))] = Head{Seq: op.Seq, Hash: hash, Time: op.Time}
	tx.changes = append(tx.changes, Change{Dataset: op.Dataset, Origin: op.Origin, OpSeq: op.Seq, Type: op.Type, Key: op.Key})
	return hash, nil
}

// PutLocal sets the node-local value name; a nil value deletes it.
func (tx *Txn) PutLocal(name string, value []byte) { tx.set(localKey(name), value) }

// GetLocal returns the node-local value name as this Txn sees it, or ErrNotFound.
func (tx *Txn) GetLocal(name string) ([]byte, error) {
	v, err := tx.get(localKey(name))
	if err == nil && v == nil {
		return nil, ErrNotFound
	}
	return v, err
}

// compile-time check that batches can be read like the DB.
var _ pebble.Reader = (*pebble.Batch)(nil)
