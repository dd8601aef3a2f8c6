package crdt

import (
	"fmt"
	"testing"
)

func benchOp(i int) *Op {
	return &Op{Dataset: "population.identity", Origin: "mps", Seq: uint64(i + 1), Epoch: 1, MetaIndex: 9,
		Time: Timestamp{WallMillis: 1_700_000_000_000 + int64(i)}, Type: "citizen", Key: fmt.Sprintf("0790%08d", i),
		Fields: []FieldOp{
			{Name: "birth_date", Kind: Register, Value: []byte(`"1990-05-01"`)},
			{Name: "clinic_visits", Kind: Counter, Counts: []Count{{Origin: "mps", P: uint64(i)}}},
			{Name: "full_name", Kind: Register, Value: []byte(`"Nguyễn Văn An"`)},
			{Name: "phones", Kind: Set, Add: []string{"0912345678"}},
			{Name: "sex", Kind: Register, Value: []byte(`"male"`)},
		}}
}

// BenchmarkDecodeApplyEncode measures what the write path does to an
// entity's state for every write: decode it, apply the op, encode it.
func BenchmarkDecodeApplyEncode(b *testing.B) {
	var s State
	s.Apply(benchOp(0))
	stored := AppendState(nil, &s)
	op := benchOp(1)
	op.Fields[3].Add = nil // a write that leaves the set alone
	b.ReportAllocs()
	for b.Loop() {
		st, err := DecodeState(stored)
		if err != nil {
			b.Fatal(err)
		}
		st.Apply(op)
		AppendState(nil, st)
	}
}

func BenchmarkEncodeDecodeOp(b *testing.B) {
	op := benchOp(1)
	buf := AppendOp(nil, op)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendOp(buf[:0], op)
		if _, err := DecodeOp(buf); err != nil {
			b.Fatal(err)
		}
	}
}
