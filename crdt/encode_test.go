package crdt

import (
	"bytes"
	"errors"
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
