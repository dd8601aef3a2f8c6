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

type stateValueMerger struct {
	key []byte
	st  *crdt.State
}

func (m *stateValueMerger) add(value []byte) error {
	o, err := crdt.DecodeState(value)
	if err != nil {
		return fmt.Errorf("%w: merge operand of %s: %v", ErrCorrupt, describe(m.key), err)
	}
	if m.st == nil {
		m.st = o
	} else {
		m.st.Merge(o)
	}
	return nil
}

func (m *stateValueMerger) MergeNewer(value []byte) error { return m.add(value) }
func (m *stateValueMerger) MergeOlder(value []byte) error { return m.add(value) }

func (m *stateValueMerger) Finish(bool) ([]byte, io.Closer, error) {
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
