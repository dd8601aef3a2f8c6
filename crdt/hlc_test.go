package crdt

import (
	"errors"
	"math"
	"testing"
)

func TestClockMonotonic(t *testing.T) {
	c := NewClock(1000)
	var prev Timestamp
	// Physical time jumps around, including backwards; readings must still increase.
	for i, phys := range []int64{100, 100, 100, 99, 50, 101, 101, 200, 150} {
		ts := c.Now(phys)
		if ts.Compare(prev) <= 0 {
			t.Fatalf("reading %d: %v not after %v", i, ts, prev)
		}
		if ts.WallMillis < phys {
			t.Fatalf("reading %d: wall %d behind physical %d", i, ts.WallMillis, phys)
		}
		prev = ts
	}
}

func TestClockObserve(t *testing.T) {
	c := NewClock(1000)
	c.Now(100)
	if err := c.Observe(Timestamp{WallMillis: 500, Logical: 7}, 100); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(100); got != (Timestamp{WallMillis: 500, Logical: 8}) {
		t.Fatalf("after observe: got %v, want 500.8", got)
	}
	err := c.Observe(Timestamp{WallMillis: 1200}, 100)
	if !errors.Is(err, ErrClockAhead) {
		t.Fatalf("observe 1100 ms ahead: got %v, want ErrClockAhead", err)
	}
	if c.Last() != (Timestamp{WallMillis: 500, Logical: 8}) {
		t.Fatalf("refused observation changed the clock: %v", c.Last())
	}
	if err := c.Observe(Timestamp{WallMillis: 1100}, 100); err != nil {
		t.Fatalf("exactly at the bound: %v", err)
	}
}

func TestClockLogicalOverflow(t *testing.T) {
	c := &Clock{last: Timestamp{WallMillis: 10, Logical: math.MaxUint32}}
	if got := c.Now(5); got != (Timestamp{WallMillis: 11}) {
		t.Fatalf("got %v, want 11.0", got)
	}
}
