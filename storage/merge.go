package storage

import (
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lienthong/lienthong/crdt"
)

// stateMerger is the store's Pebble merge operator: entity states (the only
// keys the store ever merges) are joined with crdt.State.Merge. A
// replicated op is applied as a merge operand of its delta (Txn.AppendMerge)
// instead of a read of the entity's state, a merge and a write: the cost of
// applying it does not grow with the store, and Pebble joins the operands
// when the state is read or compacted. The join is commutative, associative
// and idempotent, so the order and grouping of operands Pebble chooses, and
// whether the oldest one is included, do not change the result.
var stateMerger = &pebble.Merger{
	Name: "lienthong.crdt_state.v1",
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		m := &stateValueMerger{key: key}
		if err := m.add(value); err != nil {
			return nil, err
		}
		return m, nil
	},
}

// stateValueMerger joins operands. Most keys a flush or a compaction
// meets have one operand (a bulk load writes each entity once), and the
// join of one operand is that operand: it is kept as bytes and decoded only
// when a second one comes. A damaged lone operand is then not seen here but
// where the state is read, which decodes it and reports the damage
// (ErrCorrupt) as it would a damaged value.
type stateValueMerger struct {
	key []byte
	raw []byte      // the only operand so far (a copy), or nil
	st  *crdt.State // the join of the operands, once there are two
}

func (m *stateValueMerger) add(value []byte) error {
	if m.raw == nil && m.st == nil {
		m.raw = append(make([]byte, 0, len(value)), value...) // Pebble owns value
		return nil
	}
	if m.st == nil {
		st, err := m.decode(m.raw)
		if err != nil {
			return err
		}
		m.st, m.raw = st, nil
	}
	o, err := m.decode(value)
	if err != nil {
		return err
	}
	m.st.Merge(o)
	return nil
}

func (m *stateValueMerger) decode(b []byte) (*crdt.State, error) {
	st, err := crdt.DecodeState(b)
	if err != nil {
		return nil, fmt.Errorf("%w: merge operand of %s: %v", ErrCorrupt, describe(m.key), err)
	}
	return st, nil
}

func (m *stateValueMerger) MergeNewer(value []byte) error { return m.add(value) }
func (m *stateValueMerger) MergeOlder(value []byte) error { return m.add(value) }

func (m *stateValueMerger) Finish(bool) ([]byte, io.Closer, error) {
	if m.st == nil {
		return m.raw, nil, nil
	}
	return crdt.AppendState(nil, m.st), nil, nil
}

// mergeStates joins two encoded states, for a Txn that merges into a key it
// has already written.
func mergeStates(key, a, b []byte) ([]byte, error) {
	m := &stateValueMerger{key: key}
	if err := m.add(a); err != nil {
		return nil, err
	}
	if err := m.add(b); err != nil {
		return nil, err
	}
	v, _, err := m.Finish(true)
	return v, err
}
