package crdt

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func sampleOps() []*Op {
	t1 := Tag{Epoch: 1, Time: Timestamp{WallMillis: 1700000000000}, Origin: "mps"}
	return []*Op{
		{Dataset: "population.identity", Origin: "mps", Seq: 1, Epoch: 1, MetaIndex: 7,
			Time: Timestamp{WallMillis: 1700000000001, Logical: 2}, Type: "citizen", Key: "001090000001",
			Fields: []FieldOp{
				{Name: "clinic_visits", Kind: Counter, Counts: []Count{{Origin: "mps", P: 3, N: 1}}},
				{Name: "full_name", Kind: Register, Value: []byte(`"Nguyễn Văn An"`)},
				{Name: "nickname", Kind: Register},
				{Name: "phones", Kind: Set, Add: []string{"0912345678"},
					Remove: []Elem{{Value: "0987654321", Removes: []Tag{t1}}}},
			}},
		{Dataset: "d", Origin: "o", Seq: 9, Prev: [32]byte{1, 2, 3}, Epoch: 2, Type: "t", Key: "k", Delete: true,
			Fields: []FieldOp{{Name: "c", Kind: Counter, Bases: []Count{{Origin: "a", P: 1}, {Origin: "b", N: 2}}}}},
		{Dataset: "d", Origin: "o", Seq: 10, Epoch: 2, Type: "t", Key: "k", Replace: true,
			Fields: []FieldOp{{Name: "r", Kind: Register, Value: []byte(`1`)}}},
		{},
	}
}

func TestOpRoundTrip(t *testing.T) {
	for i, op := range sampleOps() {
		b := AppendOp(nil, op)
		got, err := DecodeOp(b)
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if again := AppendOp(nil, got); !bytes.Equal(again, b) {
			t.Fatalf("op %d: re-encoding differs", i)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s State
		for _, op := range genOps(t) {
			s.Apply(op)
		}
		b := AppendState(nil, &s)
		got, err := DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(AppendState(nil, got), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func TestDecodeRejects(t *testing.T) {
	good := AppendOp(nil, sampleOps()[0])
	unsorted := sampleOps()[0]
	unsorted.Fields[0], unsorted.Fields[1] = unsorted.Fields[1], unsorted.Fields[0]
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown format", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"unsorted fields", AppendOp(nil, unsorted)},
		{"non-minimal varint", []byte{opFormat, 0x80, 0x00}},
		{"huge list length", []byte{opFormat, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeOp(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzDecodeOp checks that the decoder never panics and accepts only
// canonical encodings: whatever decodes re-encodes to the same bytes.
func FuzzDecodeOp(f *testing.F) {
	for _, op := range sampleOps() {
		f.Add(AppendOp(nil, op))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			return
		}
		if again := AppendOp(nil, op); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x but re-encodes as %x", b, again)
		}
	})
}

// FuzzDecodeState is FuzzDecodeOp for states.
func FuzzDecodeState(f *testing.F) {
	for _, op := range sampleOps() {
		f.Add(AppendState(nil, op.Delta()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			return
		}
		if again := AppendState(nil, s); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x but re-encodes as %x", b, again)
		}
	})
}

// TestRoundTripAtLimits: what the write path may acknowledge (limits.go)
// decodes, and so does what merges of concurrent writers can make of it,
// up to the decoder's own caps; just past a cap, the decoder refuses.
func TestRoundTripAtLimits(t *testing.T) {
	big := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	tag := Tag{Epoch: 1, Time: Timestamp{WallMillis: 1}, Origin: "o"}
	elems := func(n int) []Elem {
		es := make([]Elem, n)
		for i := range es {
			es[i] = Elem{Value: strconv.Itoa(i), Adds: []Tag{tag}}
		}
		slices.SortFunc(es, func(a, b Elem) int { return strings.Compare(a.Value, b.Value) })
		return es
	}
	for _, tt := range []struct {
		name string
		op   *Op
		st   *State
	}{
		{name: "value at max_value_bytes", op: &Op{Dataset: "d", Origin: "o", Seq: 1, Epoch: 1, Type: "t", Key: "k", Replace: true,
			Fields: []FieldOp{{Name: "f", Kind: Register, Value: big(MaxValueBytes)}, {Name: "g", Kind: Set, Add: []string{string(big(MaxValueBytes))}}}}},
		{name: "state of values at eight times max_value_bytes", st: &State{Written: tag,
			Fields: []FieldState{{Name: "f", Kind: Register, Tag: tag, Value: big(8 * MaxValueBytes)}}}},
		{name: "set at eight times max_set_elements", st: &State{Written: tag,
			Fields: []FieldState{{Name: "s", Kind: Set, Elems: elems(8 * MaxSetElems)}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.op != nil {
				b := AppendOp(nil, tt.op)
				got, err := DecodeOp(b)
				if err != nil || !bytes.Equal(AppendOp(nil, got), b) {
					t.Fatalf("op of %d bytes does not round-trip: %v", len(b), err)
				}
			}
			if tt.st != nil {
				b := AppendState(nil, tt.st)
				got, err := DecodeState(b)
				if err != nil || !bytes.Equal(AppendState(nil, got), b) {
					t.Fatalf("state of %d bytes does not round-trip: %v", len(b), err)
				}
			}
		})
	}
	// Past the decoder's cap on one string: refused, whatever the input holds.
	op := &Op{Dataset: "d", Origin: "o", Seq: 1, Epoch: 1, Type: "t", Key: "k",
		Fields: []FieldOp{{Name: "f", Kind: Register, Value: big(maxCount + 1)}}}
	if _, err := DecodeOp(AppendOp(nil, op)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a value of maxCount+1 bytes: %v, want ErrCorrupt", err)
	}
	op.Fields[0].Value = big(maxCount)
	if _, err := DecodeOp(AppendOp(nil, op)); err != nil {
		t.Fatalf("a value of maxCount bytes: %v", err)
	}
}
