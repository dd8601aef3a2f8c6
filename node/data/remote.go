package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/storage"
)

// Reasons a replicated op is rejected; they label metrics and logs.
const (
	RejectUnknownDataset = "unknown_dataset"
	RejectNotReader      = "not_reader"
	RejectNotOwner       = "not_owner"
	RejectSchema         = "schema"
	RejectClock          = "clock_ahead"
	RejectStream         = "stream"
	// MetadataAhead is not a rejection: the op was validated at metadata
	// this node has not applied yet. Nothing is applied; the next pull
	// brings the ops again, by when the metadata has usually arrived.
	MetadataAhead = "metadata_ahead"
)

// RemoteError is a replicated op refused by ApplyRemote, with the reason.
type RemoteError struct {
	Reason string
	Seq    uint64
	Err    error
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("op %d refused (%s): %v", e.Seq, e.Reason, e.Err)
}
func (e *RemoteError) Unwrap() error { return e.Err }

// ApplyRemote checks ops of one stream received from a peer and applies them
// in order, in one batch: nothing is applied unless every op passes. The
// caller has verified the origin's signature over the stream head the ops
// end at and that they chain from this node's head (storage checks the
// chain again). Ops this node already has are skipped.
//
// Checks, the same at every replica: the dataset exists and this node may
// read it; the origin owned it at the op's epoch; the op's entity and fields
// belong to the dataset and its values satisfy the schema; its HLC is not too
// far ahead of local time.
//
// also, if not nil, runs in the same batch after the ops (the replicator
// stores the origin's signature with them).
//
// ApplyRemote returns once the ops are applied, before they are synced
// (storage.Store.Apply): the origin still holds them, and this node
// acknowledges, advertises and serves only what its durable heads cover.
func (e *Engine) ApplyRemote(ctx context.Context, ops []*crdt.Op, also func(*storage.Txn)) error {
	if len(ops) == 0 {
		return nil
	}
	v := e.cfg.Meta.View()
	for _, op := range ops {
		if op.MetaIndex > v.Index {
			return &RemoteError{MetadataAhead, op.Seq, fmt.Errorf("op validated at metadata index %d, this node has %d", op.MetaIndex, v.Index)}
		}
	}
	ds := v.Dataset(ops[0].Dataset)
	if ds == nil {
		return &RemoteError{RejectUnknownDataset, ops[0].Seq, fmt.Errorf("dataset %q is not in this node's metadata (index %d)", ops[0].Dataset, v.Index)}
	}
	if !ds.CanRead(e.cfg.Self) {
		return &RemoteError{RejectNotReader, ops[0].Seq, fmt.Errorf("this node may not read %s", ds.Name)}
	}
	typ := v.Type(ds.EntityType)
	for _, op := range ops {
		// An op validated before the current version of its type was checked
		// against an earlier one, which this node no longer has: its
		// values are not held to this version (ownership, entity and
		// fields still are).
		val := typ.Validator
		if op.MetaIndex < typ.Since {
			val = nil
		}
		if err := checkRemote(op, ds, typ.Validator, val != nil); err != nil {
			return err
		}
	}
	return e.cfg.Store.Apply(ctx, func(tx *storage.Txn) error {
		now := e.cfg.NowMillis()
		for _, op := range ops {
			h, err := tx.Head(op.Dataset, op.Origin)
			if err != nil {
				return err
			}
			if op.Seq <= h.Seq {
				continue // already applied: a duplicate delivery
			}
			if err := e.clock.Observe(op.Time, now); err != nil {
				return &RemoteError{RejectClock, op.Seq, err}
			}
			// No read of the entity's state: the op's delta is merged
			// into it (storage.Txn.AppendMerge).
			if _, err := tx.AppendMerge(op); err != nil {
				if errors.Is(err, storage.ErrSequence) {
					return &RemoteError{RejectStream, op.Seq, err}
				}
				return err
			}
		}
		if also != nil {
			also(tx)
		}
		return nil
	})
}

func checkRemote(op *crdt.Op, ds *dict.Dataset, val *dict.Validator, values bool) error {
	fail := func(reason string, format string, args ...any) error {
		return &RemoteError{reason, op.Seq, fmt.Errorf(format, args...)}
	}
	if owner, ok := ds.OwnerAt(op.Epoch); !ok || owner != op.Origin {
		return fail(RejectNotOwner, "%s did not own %s at epoch %d", op.Origin, ds.Name, op.Epoch)
	}
	if op.Type != ds.EntityType || !ds.HasKey(op.Key) {
		return fail(RejectSchema, "entity %s/%s is not in dataset %s", op.Type, op.Key, ds.Name)
	}
	if err := val.Key(op.Key); err != nil {
		return fail(RejectSchema, "%v", err)
	}
	for i, f := range op.Fields {
		if i > 0 && f.Name <= op.Fields[i-1].Name {
			return fail(RejectSchema, "fields not sorted")
		}
		if !ds.Covers(f.Name) {
			return fail(RejectSchema, "field %q is not in dataset %s", f.Name, ds.Name)
		}
		if want := kindOf(val.Type().Fields[f.Name].Type); f.Kind != want && values {
			return fail(RejectSchema, "field %q is a %v, the op writes a %v", f.Name, want, f.Kind)
		}
		if !values {
			continue
		}
		switch f.Kind {
		case crdt.Register:
			if f.Value != nil {
				if err := val.Value(f.Name, f.Value); err != nil {
					return fail(RejectSchema, "%v", err)
				}
			}
		case crdt.Set:
			for _, el := range f.Add {
				if err := val.Element(f.Name, el); err != nil {
					return fail(RejectSchema, "%v", err)
				}
			}
		case crdt.Counter:
			if op.Delete && len(f.Counts) > 0 || !op.Delete && (len(f.Counts) != 1 || f.Counts[0].Origin != op.Origin || len(f.Bases) > 0) {
				return fail(RejectSchema, "counter %q: an op carries its origin's totals, a delete the observed bases", f.Name)
			}
		}
	}
	if op.Delete && slices.ContainsFunc(op.Fields, func(f crdt.FieldOp) bool { return f.Kind != crdt.Counter }) {
		return fail(RejectSchema, "a delete carries only counter bases")
	}
	return nil
}

// KeyState is one entity's state in a dataset, as a snapshot brings it.
type KeyState struct {
	Key   string
	State *crdt.State
}

// ApplyStates merges entity states of dataset, received from member from in
// a dataset snapshot, into this node's, in one batch: nothing is applied
// unless every state passes. Merge is a join, so a state applied twice, or
// one that holds ops this node also receives as ops, is harmless.
//
// Checks: the dataset exists and this node may read it; each key belongs to
// it and matches the type's key pattern; each field is one of the dataset's
// with the kind of the type. Values are not checked against the schema: a
// node takes snapshots only from the dataset's owner, which is authoritative
// for them (see docs/architecture.md).
//
// also, if not nil, runs in the same batch after the states (the replicator
// records its progress, and installs the stream heads with the last chunk).
func (e *Engine) ApplyStates(ctx context.Context, dataset, from string, states []KeyState, also func(*storage.Txn) error) error {
	v := e.cfg.Meta.View()
	ds := v.Dataset(dataset)
	if ds == nil {
		return &RemoteError{RejectUnknownDataset, 0, fmt.Errorf("dataset %q is not in this node's metadata (index %d)", dataset, v.Index)}
	}
	if !ds.CanRead(e.cfg.Self) {
		return &RemoteError{RejectNotReader, 0, fmt.Errorf("this node may not read %s", ds.Name)}
	}
	typ := v.Type(ds.EntityType)
	for _, s := range states {
		if !ds.HasKey(s.Key) {
			return &RemoteError{RejectSchema, 0, fmt.Errorf("entity %s is not in dataset %s", s.Key, ds.Name)}
		}
		if err := typ.Validator.Key(s.Key); err != nil {
			return &RemoteError{RejectSchema, 0, err}
		}
		for _, f := range s.State.Fields {
			if !ds.Covers(f.Name) {
				return &RemoteError{RejectSchema, 0, fmt.Errorf("entity %s: field %q is not in dataset %s", s.Key, f.Name, ds.Name)}
			}
			if want := kindOf(typ.Fields[f.Name].Type); f.Kind != want {
				return &RemoteError{RejectSchema, 0, fmt.Errorf("entity %s: field %q is a %v, the state holds a %v", s.Key, f.Name, want, f.Kind)}
			}
		}
	}
	return e.cfg.Store.Update(ctx, func(tx *storage.Txn) error {
		now := e.cfg.NowMillis()
		for _, s := range states {
			cur, err := tx.State(ds.EntityType, s.Key, ds.Name)
			if err != nil {
				return err
			}
			before := crdt.AppendState(nil, cur)
			cur.Merge(s.State)
			if bytes.Equal(before, crdt.AppendState(nil, cur)) {
				continue // nothing new: no change to feed
			}
			// Keep the clock ahead of what it has seen, within its bound.
			for _, t := range []crdt.Timestamp{s.State.Written.Time, s.State.Deleted.Time} {
				if !t.IsZero() {
					e.clock.Observe(t, now)
				}
			}
			if err := tx.PutState(ds.EntityType, s.Key, ds.Name, from, cur); err != nil {
				return err
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
}
