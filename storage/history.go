package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lienthong/lienthong/crdt"
)

// A stream's op log holds the ops after its floor: history below it was
// truncated, or never held because the stream arrived in a dataset snapshot.
//
// INVARIANT: the log of a stream holds exactly the ops (floor, head].

// Snapshot is a consistent read view of the store in which everything is
// synced: no crash can take back what it shows. Its methods are safe for
// concurrent use; Close it when done.
type Snapshot struct {
	reads
	snap *pebble.Snapshot
}

// DurableSnapshot returns a view of the store as of now, once all of it is
// synced: it waits for the group commit in flight, or syncs what Apply
// applied (with DeferSyncs, nothing else would).
func (s *Store) DurableSnapshot(ctx context.Context) (*Snapshot, error) {
	snap := s.db.NewSnapshot()
	k, err := s.lastKey(snap, []byte{tableChange})
	if err != nil {
		snap.Close()
		return nil, err
	}
	var last uint64
	if k != nil {
		last = binary.BigEndian.Uint64(k[1:])
	}
	if last > s.Durable() {
		if err := s.Sync(ctx); err != nil {
			snap.Close()
			return nil, err
		}
	}
	return &Snapshot{reads: reads{snap, s.al}, snap: snap}, nil
}

// Close releases the snapshot.
func (sn *Snapshot) Close() error { return sn.snap.Close() }

func floorKey(dataset, origin string) []byte {
	return appendParts(nil, tableFloor, dataset, origin)
}

// Floor returns the floor of stream (dataset, origin): the seq below which
// (inclusive) its ops are no longer held; 0 if its whole history is here.
func (s reads) Floor(dataset, origin string) (uint64, error) {
	k := floorKey(dataset, origin)
	b, err := s.al.get(s.r, k)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	f, err := decodeFloor(b)
	if err != nil {
		return 0, s.al.corrupt(describe(k), err)
	}
	return f, nil
}

func decodeFloor(b []byte) (uint64, error) {
	f, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) {
		return 0, errors.New("corrupt floor")
	}
	return f, nil
}

// Floor returns the floor of stream (dataset, origin) as this Txn sees it.
func (tx *Txn) Floor(dataset, origin string) (uint64, error) {
	k := floorKey(dataset, origin)
	b, err := tx.get(k)
	if errors.Is(err, ErrNotFound) || err == nil && b == nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	f, err := decodeFloor(b)
	if err != nil {
		return 0, tx.s.al.corrupt(describe(k), err)
	}
	return f, nil
}

// Truncate drops the ops of stream (dataset, origin) up to seq upTo and
// raises its floor there. It does nothing if the floor is already at or
// above upTo; upTo beyond the head is an ErrInvalid.
func (tx *Txn) Truncate(dataset, origin string, upTo uint64) error {
	head, err := tx.Head(dataset, origin)
	if err != nil {
		return err
	}
	if upTo > head.Seq {
		return fmt.Errorf("%w: truncate %s/%s to %d beyond its head %d", ErrInvalid, dataset, origin, upTo, head.Seq)
	}
	return tx.raiseFloor(dataset, origin, upTo)
}

func (tx *Txn) raiseFloor(dataset, origin string, upTo uint64) error {
	floor, err := tx.Floor(dataset, origin)
	if err != nil || upTo <= floor {
		return err
	}
	tx.ranges = append(tx.ranges, kv{k: opKey(dataset, origin, floor+1), v: opKey(dataset, origin, upTo+1)})
	tx.set(floorKey(dataset, origin), binary.AppendUvarint(nil, upTo))
	return nil
}

// Install moves stream (dataset, origin) to head h, which came with a
// dataset snapshot whose states already hold the stream's ops up to h: the
// ops it holds up to h.Seq are dropped and its floor set to h.Seq, so the
// next op it takes is h.Seq+1, chained to h.Hash. It reports false, changing
// nothing, if the stream is already at or beyond h.Seq.
func (tx *Txn) Install(dataset, origin string, h Head) (bool, error) {
	for what, v := range map[string]string{"dataset": dataset, "origin": origin} {
		if err := checkName(what, v); err != nil {
			return false, err
		}
	}
	head, err := tx.Head(dataset, origin)
	if err != nil || h.Seq <= head.Seq {
		return false, err
	}
	if err := tx.raiseFloor(dataset, origin, h.Seq); err != nil {
		return false, err
	}
	tx.heads[string(headKey(dataset, origin))] = h
	return true, nil
}

// PutState stores st as the state of entity (typ, key) in dataset, without
// an op (a dataset snapshot brings states, not ops), and adds a change-feed
// entry with OpSeq 0 and origin from: the member the state came from.
//
// REQUIRES: st includes the entity's current state (it is a merge with it).
func (tx *Txn) PutState(typ, key, dataset, from string, st *crdt.State) error {
	for what, v := range map[string]string{"dataset": dataset, "entity type": typ, "key": key, "origin": from} {
		if err := checkName(what, v); err != nil {
			return err
		}
	}
	tx.set(entityKey(typ, key, dataset), crdt.AppendState(nil, st))
	tx.changes = append(tx.changes, Change{Dataset: dataset, Origin: from, Type: typ, Key: key})
	return nil
}

// DeleteLocalRange deletes the node-local values whose names are in
// [from, to).
func (tx *Txn) DeleteLocalRange(from, to string) {
	tx.ranges = append(tx.ranges, kv{k: localKey(from), v: localKey(to)})
}

// DropDataset deletes everything the store holds of dataset, of entity type
// typ and key prefix keyPrefix: its entity states, and the op logs, heads and
// floors of its streams (node-local values are the caller's). States go in
// batches of about a thousand; a crash in between leaves the rest for the
// next call. It returns the states deleted.
func (s *Store) DropDataset(ctx context.Context, typ, keyPrefix, dataset string) (int, error) {
	if err := checkName("dataset", dataset); err != nil {
		return 0, err
	}
	total, after := 0, ""
	for {
		page, err := s.Entities(typ, keyPrefix, after, 1000)
		if err != nil {
			return total, err
		}
		var keys []string
		for _, e := range page {
			after = e.Key
			for _, st := range e.States {
				if st.Dataset == dataset {
					keys = append(keys, e.Key)
				}
			}
		}
		if len(page) == 0 {
			break
		}
		if len(keys) == 0 {
			continue
		}
		if err := s.Update(ctx, func(tx *Txn) error {
			for _, k := range keys {
				tx.set(entityKey(typ, k, dataset), nil)
			}
			return nil
		}); err != nil {
			return total, err
		}
		total += len(keys)
	}
	err := s.Update(ctx, func(tx *Txn) error {
		for _, table := range []byte{tableOp, tableHead, tableFloor} {
			p := append(appendParts(nil, table, dataset), sep)
			tx.ranges = append(tx.ranges, kv{k: p, v: prefixEnd(p)})
		}
		tx.dropped = append(tx.dropped, string(append(appendParts(nil, tableHead, dataset), sep)))
		return nil
	})
	return total, err
}
