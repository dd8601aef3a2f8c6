package data

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
)

// ErrPrecondition is returned, as a *PreconditionError, by a conditional
// write (Write.IfMatch, Write.IfNoneMatch) whose condition does not hold.
// Nothing was written.
var ErrPrecondition = errors.New("data: precondition failed")

// AnyTag in Write.IfMatch matches any entity that exists; in
// Write.IfNoneMatch, it refuses the write if the entity exists.
const AnyTag = "*"

// PreconditionError is the refusal of a conditional write.
type PreconditionError struct {
	Type, Key string
	// IfNoneMatch is true when Write.IfNoneMatch failed, false for IfMatch.
	IfNoneMatch bool
	// Current is the entity's ETag when the write was refused; "" if it
	// does not exist at this node.
	Current string
}

func (e *PreconditionError) Error() string {
	ent := e.Type + "/" + e.Key
	switch {
	case e.IfNoneMatch:
		return fmt.Sprintf("%v: %s exists with ETag %q, which the write excludes (If-None-Match; with *, the write may only create the entity); read it and send the change with If-Match: %q",
			ErrPrecondition, ent, e.Current, e.Current)
	case e.Current == "":
		return fmt.Sprintf("%v: %s does not exist at this node, and the write is conditional on it (If-Match); read it again, or write it without a condition to create it",
			ErrPrecondition, ent)
	}
	return fmt.Sprintf("%v: %s changed since it was read: its ETag is now %q; read it again, redo the change on what you read and retry with If-Match: %q",
		ErrPrecondition, ent, e.Current, e.Current)
}

// Unwrap makes errors.Is(err, ErrPrecondition) true.
func (e *PreconditionError) Unwrap() error { return ErrPrecondition }

// An entity's ETag is a digest of its states in every dataset that has one
// at this node, tombstones included, in dataset order: 128 bits of the
// SHA-256 of each dataset's name and canonical state encoding, in base64url.
// Every op or snapshot state that changes one of those states changes it, a
// delete included, and nothing else does; nodes holding the same states give
// the same ETag. The HLC of the last applied op would not do: an op of a
// former owner (an older epoch) or another origin's counter increment can
// arrive after a later write and still change the entity.
//
// etag returns "" when the entity exists in no dataset (Get finds nothing)
// and reuses buf as scratch space, returning it.
func etag(states []storage.DatasetState, buf []byte) (string, []byte) {
	h := sha256.New()
	exists := false
	var size [binary.MaxVarintLen64]byte
	for _, ds := range states {
		if ds.State.Written.IsZero() && ds.State.Deleted.IsZero() {
			continue // never written there: the empty state of a dataset that does not hold it
		}
		exists = exists || ds.State.Exists()
		h.Write(size[:binary.PutUvarint(size[:], uint64(len(ds.Dataset)))])
		h.Write([]byte(ds.Dataset))
		buf = crdt.AppendState(buf[:0], ds.State)
		h.Write(size[:binary.PutUvarint(size[:], uint64(len(buf)))])
		h.Write(buf)
	}
	if !exists {
		return "", buf
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16]), buf
}

// statesLocked returns the states of entity (typ, key) in every dataset of
// typ whose keys may hold it, as tx sees them, in dataset order: own's state
// is st. Datasets are never removed from the metadata and never change
// type or key prefix, so these are the datasets Store.Entity finds (those it
// lacks have empty states, which etag skips), own among them: check found
// it among the datasets of typ holding key.
//
// REQUIRES: it runs on the committer goroutine, inside tx.
func (e *Engine) statesLocked(tx *storage.Txn, typ, key, own string, st *crdt.State) ([]storage.DatasetState, error) {
	var out []storage.DatasetState
	for _, ds := range e.datasetsOfLocked(typ) {
		if !ds.HasKey(key) {
			continue
		}
		if ds.Name == own {
			out = append(out, storage.DatasetState{Dataset: own, State: st})
			continue
		}
		o, err := tx.State(typ, key, ds.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, storage.DatasetState{Dataset: ds.Name, State: o})
	}
	return out, nil
}

// typeIndex is View.DatasetsOf for each type asked, of one view: the write
// path asks it for every write, and the view changes rarely.
type typeIndex struct {
	view   *meta.View
	byType map[string][]*dict.Dataset
}

// datasetsOfLocked is the current view's DatasetsOf(typ), cached per view.
//
// REQUIRES: it runs on the committer goroutine (e.types).
func (e *Engine) datasetsOfLocked(typ string) []*dict.Dataset {
	v := e.cfg.Meta.View()
	if e.types.view != v {
		e.types = typeIndex{view: v, byType: map[string][]*dict.Dataset{}}
	}
	ds, ok := e.types.byType[typ]
	if !ok {
		ds = v.DatasetsOf(typ)
		e.types.byType[typ] = ds
	}
	return ds
}

// checkPrecondition refuses w unless its conditions hold for the entity
// whose ETag is cur ("" if it does not exist).
func checkPrecondition(w Write, typ, cur string) error {
	if len(w.IfMatch) > 0 && (cur == "" || !slices.Contains(w.IfMatch, AnyTag) && !slices.Contains(w.IfMatch, cur)) {
		return &PreconditionError{Type: typ, Key: w.Key, Current: cur}
	}
	if len(w.IfNoneMatch) > 0 && cur != "" && (slices.Contains(w.IfNoneMatch, AnyTag) || slices.Contains(w.IfNoneMatch, cur)) {
		return &PreconditionError{Type: typ, Key: w.Key, IfNoneMatch: true, Current: cur}
	}
	return nil
}
