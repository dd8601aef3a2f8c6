package crdt

import (
	"errors"
	"fmt"
	"math"
)

// ErrClockAhead is returned by Clock.Observe for a remote timestamp further
// ahead of local physical time than the clock allows.
var ErrClockAhead = errors.New("crdt: remote timestamp too far ahead")

// Timestamp is a hybrid logical clock reading: physical milliseconds since the
// Unix epoch and a logical counter that orders events within one millisecond.
type Timestamp struct {
	WallMillis int64
	Logical    uint32
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.WallMillis < u.WallMillis:
		return -1
	case t.WallMillis > u.WallMillis:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	}
	return 0
}

// IsZero reports whether t is the zero timestamp, which precedes every reading.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

func (t Timestamp) String() string { return fmt.Sprintf("%d.%d", t.WallMillis, t.Logical) }

// next returns the smallest timestamp after t.
func (t Timestamp) next() Timestamp {
	if t.Logical == math.MaxUint32 {
		return Timestamp{WallMillis: t.WallMillis + 1}
	}
	return Timestamp{WallMillis: t.WallMillis, Logical: t.Logical + 1}
}

// Clock is a hybrid logical clock. Readings from one Clock strictly increase,
// whatever the physical time passed in does. The zero Clock accepts remote
// timestamps at any distance ahead; use NewClock to bound it.
//
// A Clock is not safe for concurrent use.
type Clock struct {
	last          Timestamp
	maxAheadMilli int64
}

// NewClock returns a clock that refuses remote timestamps more than
// maxAheadMillis ahead of local physical time. Zero means no bound.
func NewClock(maxAheadMillis int64) *Clock {
	return &Clock{maxAheadMilli: maxAheadMillis}
}

// Now returns a new reading for a local event at physical time physMillis.
func (c *Clock) Now(physMillis int64) Timestamp {
	if physMillis > c.last.WallMillis {
		c.last = Timestamp{WallMillis: physMillis}
	} else {
		c.last = c.last.next()
	}
	return c.last
}

// Observe folds a remote timestamp into the clock so that later readings
// follow it. It returns ErrClockAhead, and changes nothing, when remote is more
// than the clock's bound ahead of physMillis.
func (c *Clock) Observe(remote Timestamp, physMillis int64) error {
	if c.maxAheadMilli > 0 && remote.WallMillis-physMillis > c.maxAheadMilli {
		return fmt.Errorf("%w: %d ms ahead of local time, limit %d ms",
			ErrClockAhead, remote.WallMillis-physMillis, c.maxAheadMilli)
	}
	if remote.Compare(c.last) > 0 {
		c.last = remote
	}
	return nil
}

// Last returns the latest reading or observed timestamp. A node persists it
// (or recovers it from its op log) and Observes it after a restart, so that
// readings never go backwards across restarts.
func (c *Clock) Last() Timestamp { return c.last }
