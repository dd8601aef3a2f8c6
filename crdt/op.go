package crdt

import (
	"strings"
	"sync/atomic"
)

// Kind is the CRDT behaviour of a field.
type Kind uint8

const (
	// Register holds one JSON value; the write with the greatest Tag wins.
	Register Kind = 1
	// Set is an add-wins observed-remove set of strings.
	Set Kind = 2
	// Counter sums per-origin increments (each origin's totals only grow).
	Counter Kind = 3
)

func (k Kind) String() string {
	switch k {
	case Register:
		return "register"
	case Set:
		return "set"
	case Counter:
		return "counter"
	}
	return "unknown"
}

// Tag orders writes: owner epoch first, so a new owner's writes beat the old
// owner's, then the HLC time, then the origin's name to break the tie.
// The Tag of an op also names it uniquely: an origin never reuses a time.
type Tag struct {
	Epoch  uint64
	Time   Timestamp
	Origin string
}

// BrokenForTesting, when set, makes Compare ignore the owner epoch, so
// that an old owner's later write beats the new owner's: the deliberately
// broken merge with which the simulator's tests check that its swarm
// catches a broken build. Never set it outside tests.
var BrokenForTesting atomic.Bool

// Compare returns -1, 0 or +1 as t orders before, equal to or after u.
func (t Tag) Compare(u Tag) int {
	switch {
	case BrokenForTesting.Load():
	case t.Epoch < u.Epoch:
		return -1
	case t.Epoch > u.Epoch:
		return 1
	}
	if c := t.Time.Compare(u.Time); c != 0 {
		return c
	}
	return strings.Compare(t.Origin, u.Origin)
}

// IsZero reports whether t is the zero Tag, which orders before every write.
func (t Tag) IsZero() bool { return t.Epoch == 0 && t.Time.IsZero() && t.Origin == "" }

// Op is one change by an origin to one entity within one dataset. It is the
// unit that is logged, hash-chained, signed and replicated.
//
// An op is a delta: Delta turns it into a State that merges into replicas.
type Op struct {
	Dataset string // dataset name
	Origin  string // member name of the writer
	Seq     uint64 // position in the stream (Dataset, Origin), from 1, no gaps
	// Prev is the hash of the stream's previous op (zero for Seq 1).
	Prev      [32]byte
	Epoch     uint64    // owner epoch of Dataset the origin wrote under
	MetaIndex uint64    // metadata index the op was validated at
	Time      Timestamp // HLC reading of the origin
	Type      string    // entity type
	Key       string    // entity key
	// Delete marks a tombstone over the dataset's fields of this entity: every
	// register and set element written before it (by Tag) disappears, and each
	// counter restarts from the totals the deleter observed (FieldOp.Bases).
	// A later write revives the entity.
	Delete bool
	// Replace marks a put: the op replaces the entity's fields in the
	// dataset. Every register value and set dot written before it (by Tag)
	// disappears, whether or not the origin had seen it, and the op's own
	// fields are the new values; counters are left as they are. So a new
	// owner's put beats an old owner's write to a field the new owner never
	// saw. At most one of Delete and Replace is set.
	Replace bool
	// Fields is sorted by Name, one entry per field at most.
	Fields []FieldOp
}

// Tag returns the tag of every value the op writes.
func (o *Op) Tag() Tag { return Tag{Epoch: o.Epoch, Time: o.Time, Origin: o.Origin} }

// FieldOp is the change to one field. Which members are used depends on Kind.
type FieldOp struct {
	Name string
	Kind Kind

	// Register: the new JSON value; nil clears the field.
	Value []byte

	// Set: elements added (each with the op's Tag as its dot), and the dots
	// observed for the elements removed. Add is sorted and unique; Remove is
	// sorted by element, each element once, its dots sorted and unique.
	Add    []string
	Remove []Elem

	// Counter: the origin's totals after this op (Counts has exactly one
	// entry, for Origin), or for a Delete op the totals observed per origin
	// (Bases, sorted by origin).
	Counts []Count
	Bases  []Count
}

// Elem is one element of a set field with its add dots and removed dots,
// each sorted and unique. The element is present when some add dot is
// neither removed nor older than the dataset's delete tombstone.
type Elem struct {
	Value   string
	Adds    []Tag
	Removes []Tag
}

// Count is one origin's contribution to a counter: the totals of its positive
// and negative increments, which only grow.
type Count struct {
	Origin string
	P, N   uint64
}
