package crdt

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// genOps draws the streams of three origins writing one entity: registers,
// sets and counters, with deletes, removes of observed dots and epoch bumps,
// each origin's HLC strictly increasing as a real Clock would make it.
func genOps(t *rapid.T) []*Op {
	origins := []string{"a", "b", "c"}
	clocks := map[string]*Clock{}
	epochs := map[string]uint64{}
	totals := map[string]Count{}  // counter field "c": each origin's totals
	var dots = map[string][]Tag{} // set field "s": every add dot drawn so far
	seq := map[string]uint64{}
	n := rapid.IntRange(1, 30).Draw(t, "ops")
	ops := make([]*Op, 0, n)
	for i := 0; i < n; i++ {
		o := rapid.SampledFrom(origins).Draw(t, "origin")
		if clocks[o] == nil {
			clocks[o] = NewClock(0)
			epochs[o] = 1
		}
		if rapid.IntRange(0, 9).Draw(t, "bump") == 0 {
			epochs[o]++
		}
		seq[o]++
		// Physical times collide often, so that ties on wall time are common.
		op := &Op{Dataset: "d", Origin: o, Seq: seq[o], Epoch: epochs[o], Type: "t", Key: "k",
			Time: clocks[o].Now(rapid.Int64Range(0, 5).Draw(t, "phys"))}
		tag := op.Tag()
		if rapid.IntRange(0, 9).Draw(t, "delete") == 0 {
			op.Delete = true
			var bases []Count
			for _, org := range origins {
				if c, ok := totals[org]; ok && rapid.Bool().Draw(t, "observed") {
					bases = append(bases, Count{Origin: org,
						P: rapid.Uint64Range(0, c.P).Draw(t, "bp"), N: rapid.Uint64Range(0, c.N).Draw(t, "bn")})
				}
			}
			if len(bases) > 0 {
				op.Fields = []FieldOp{{Name: "c", Kind: Counter, Bases: bases}}
			}
			ops = append(ops, op)
			continue
		}
		op.Replace = rapid.IntRange(0, 7).Draw(t, "replace") == 0
		if rapid.Bool().Draw(t, "counter") {
			c := totals[o]
			c.Origin = o
			if rapid.Bool().Draw(t, "neg") {
				c.N += rapid.Uint64Range(1, 5).Draw(t, "n")
			} else {
				c.P += rapid.Uint64Range(1, 5).Draw(t, "p")
			}
			totals[o] = c
			op.Fields = append(op.Fields, FieldOp{Name: "c", Kind: Counter, Counts: []Count{c}})
		}
		if rapid.Bool().Draw(t, "register") {
			v := rapid.SampledFrom([]string{"", `"x"`, `"y"`, `1`}).Draw(t, "value")
			var value []byte
			if v != "" {
				value = []byte(v)
			}
			op.Fields = append(op.Fields, FieldOp{Name: "r", Kind: Register, Value: value})
		}
		if rapid.Bool().Draw(t, "set") {
			f := FieldOp{Name: "s", Kind: Set}
			for _, e := range []string{"e1", "e2", "e3"} {
				switch rapid.IntRange(0, 2).Draw(t, "elem") {
				case 1:
					f.Add = append(f.Add, e)
					dots[e] = append(dots[e], tag)
				case 2:
					var seen []Tag
					for _, d := range dots[e] {
						if d != tag && rapid.Bool().Draw(t, "seen") {
							seen = append(seen, d)
						}
					}
					slices.SortFunc(seen, Tag.Compare)
					if len(seen) > 0 {
						f.Remove = append(f.Remove, Elem{Value: e, Removes: seen})
					}
				}
			}
			op.Fields = append(op.Fields, f)
		}
		ops = append(ops, op)
	}
	return ops
}

func encodeState(s *State) []byte { return AppendState(nil, s) }

func cloneState(t *rapid.T, s *State) *State {
	c, err := DecodeState(encodeState(s))
	if err != nil {
		t.Fatalf("state does not round-trip: %v", err)
	}
	return c
}

// TestConvergence delivers the same ops in random orders with duplicates and
// checks that every delivery reaches the same state, byte for byte.
func TestConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := genOps(t)
		var want State
		for _, op := range ops {
			want.Apply(op)
		}
		order := rapid.Permutation(ops).Draw(t, "order")
		dups := rapid.SliceOf(rapid.SampledFrom(ops)).Draw(t, "duplicates")
		delivery := append(order, dups...)
		delivery = rapid.Permutation(delivery).Draw(t, "delivery")
		var got State
		for _, op := range delivery {
			got.Apply(op)
		}
		if !bytes.Equal(encodeState(&got), encodeState(&want)) {
			t.Fatalf("diverged:\n got %+v\nwant %+v", got, want)
		}
	})
}

// TestMergeLaws checks that Merge is commutative, associative and idempotent
// on states built from arbitrary subsets of ops.
func TestMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := genOps(t)
		part := func(name string) *State {
			var s State
			for _, op := range ops {
				if rapid.Bool().Draw(t, name) {
					s.Apply(op)
				}
			}
			return &s
		}
		a, b, c := part("a"), part("b"), part("c")
		join := func(x, y *State) *State {
			z := cloneState(t, x)
			z.Merge(cloneState(t, y))
			return z
		}
		eq := func(law string, x, y *State) {
			if !bytes.Equal(encodeState(x), encodeState(y)) {
				t.Fatalf("%s fails:\n%+v\n%+v", law, x, y)
			}
		}
		eq("commutativity", join(a, b), join(b, a))
		eq("associativity", join(join(a, b), c), join(a, join(b, c)))
		eq("idempotence", join(a, a), a)
	})
}

// TestMergeAgainstNaive checks the optimised merge and pruning against a
// naive model that keeps every op and evaluates the visible value from scratch.
func TestMergeAgainstNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := genOps(t)
		var s State
		for _, op := range rapid.Permutation(ops).Draw(t, "order") {
			s.Apply(op)
		}
		// Naive model.
		var written, deleted, cleared Tag
		var reg struct {
			tag   Tag
			value []byte
		}
		for _, op := range ops {
			tag := op.Tag()
			if op.Delete {
				deleted = maxTag(deleted, tag)
				continue
			}
			written = maxTag(written, tag)
			if op.Replace {
				cleared = maxTag(cleared, tag)
			}
			for _, f := range op.Fields {
				if f.Kind == Register {
					if c := tag.Compare(reg.tag); c > 0 || c == 0 && bytes.Compare(f.Value, reg.value) > 0 {
						reg.tag, reg.value = tag, f.Value
					}
				}
			}
		}
		if got, want := s.Exists(), written.Compare(deleted) > 0; got != want {
			t.Fatalf("Exists: got %v, want %v", got, want)
		}
		wantReg := reg.value
		if reg.tag.Compare(deleted) <= 0 || reg.tag.Compare(cleared) < 0 {
			wantReg = nil
		}
		var gotReg []byte
		if f := s.Field("r"); f != nil {
			gotReg = f.Value
		}
		if !bytes.Equal(gotReg, wantReg) || (gotReg == nil) != (wantReg == nil) {
			t.Fatalf("register: got %q, want %q", gotReg, wantReg)
		}
		// Set: an element is present iff some add dot after the delete is not removed.
		removed := map[string]map[Tag]bool{}
		for _, op := range ops {
			for _, f := range op.Fields {
				for _, e := range f.Remove {
					for _, d := range e.Removes {
						if removed[e.Value] == nil {
							removed[e.Value] = map[Tag]bool{}
						}
						removed[e.Value][d] = true
					}
				}
			}
		}
		var wantMembers []string
		for _, e := range []string{"e1", "e2", "e3"} {
			for _, op := range ops {
				if !op.Delete && op.Tag().Compare(deleted) > 0 && op.Tag().Compare(cleared) >= 0 && !removed[e][op.Tag()] && hasAdd(op, e) {
					wantMembers = append(wantMembers, e)
					break
				}
			}
		}
		var gotMembers []string
		if f := s.Field("s"); f != nil {
			gotMembers = f.Members()
		}
		if !slices.Equal(gotMembers, wantMembers) {
			t.Fatalf("set: got %v, want %v", gotMembers, wantMembers)
		}
		// Counter: per origin, greatest totals minus greatest observed bases.
		tot, base := map[string]Count{}, map[string]Count{}
		for _, op := range ops {
			for _, f := range op.Fields {
				for _, c := range f.Counts {
					tot[c.Origin] = Count{P: max(tot[c.Origin].P, c.P), N: max(tot[c.Origin].N, c.N)}
				}
				for _, c := range f.Bases {
					base[c.Origin] = Count{P: max(base[c.Origin].P, c.P), N: max(base[c.Origin].N, c.N)}
				}
			}
		}
		var wantTotal int64
		for o, c := range tot {
			wantTotal += int64(sub0(c.P, base[o].P)) - int64(sub0(c.N, base[o].N))
		}
		var gotTotal int64
		if f := s.Field("c"); f != nil {
			gotTotal = f.Total()
		}
		if gotTotal != wantTotal {
			t.Fatalf("counter: got %d, want %d", gotTotal, wantTotal)
		}
	})
}

func hasAdd(op *Op, e string) bool {
	for _, f := range op.Fields {
		if f.Kind == Set && slices.Contains(f.Add, e) {
			return true
		}
	}
	return false
}

func maxTag(a, b Tag) Tag {
	if b.Compare(a) > 0 {
		return b
	}
	return a
}

func TestSemantics(t *testing.T) {
	ts := func(wall int64) Timestamp { return Timestamp{WallMillis: wall} }
	reg := func(v string) []FieldOp { return []FieldOp{{Name: "r", Kind: Register, Value: []byte(v)}} }
	tests := []struct {
		name  string
		ops   []*Op
		check func(*State) string
	}{
		{
			name: "later HLC wins within an epoch",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(2), Fields: reg(`"new"`)},
				{Origin: "b", Epoch: 1, Time: ts(1), Fields: reg(`"old"`)},
			},
			check: func(s *State) string { return string(s.Field("r").Value) },
		},
		{
			name: "new owner's epoch beats a later HLC",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(9), Fields: reg(`"old owner"`)},
				{Origin: "b", Epoch: 2, Time: ts(1), Fields: reg(`"new"`)},
			},
			check: func(s *State) string { return string(s.Field("r").Value) },
		},
		{
			name: "origin breaks a tie",
			ops: []*Op{
				{Origin: "b", Epoch: 1, Time: ts(1), Fields: reg(`"new"`)},
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: reg(`"old"`)},
			},
			check: func(s *State) string { return string(s.Field("r").Value) },
		},
		{
			name: "delete hides earlier writes",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: reg(`"x"`)},
				{Origin: "a", Epoch: 1, Time: ts(2), Delete: true},
			},
			check: func(s *State) string { return fmt.Sprint(s.Exists(), s.Field("r").Present()) },
		},
		{
			name: "a later write revives",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: reg(`"x"`)},
				{Origin: "a", Epoch: 1, Time: ts(2), Delete: true},
				{Origin: "a", Epoch: 1, Time: ts(3), Fields: reg(`"new"`)},
			},
			check: func(s *State) string { return fmt.Sprint(s.Exists(), " ", string(s.Field("r").Value)) },
		},
		{
			name: "concurrent add wins over a remove that did not observe it",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: []FieldOp{{Name: "s", Kind: Set, Add: []string{"x"}}}},
				{Origin: "b", Epoch: 1, Time: ts(2), Fields: []FieldOp{{Name: "s", Kind: Set, Add: []string{"x"}}}},
				{Origin: "a", Epoch: 1, Time: ts(3), Fields: []FieldOp{{Name: "s", Kind: Set,
					Remove: []Elem{{Value: "x", Removes: []Tag{{Epoch: 1, Time: ts(1), Origin: "a"}}}}}}},
			},
			check: func(s *State) string { return fmt.Sprint(s.Field("s").Members()) },
		},
		{
			name: "counter sums origins and restarts from the observed bases",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: []FieldOp{{Name: "c", Kind: Counter, Counts: []Count{{Origin: "a", P: 5}}}}},
				{Origin: "b", Epoch: 1, Time: ts(1), Fields: []FieldOp{{Name: "c", Kind: Counter, Counts: []Count{{Origin: "b", P: 3, N: 1}}}}},
				{Origin: "a", Epoch: 1, Time: ts(2), Delete: true, Fields: []FieldOp{{Name: "c", Kind: Counter, Bases: []Count{{Origin: "a", P: 5}}}}},
			},
			check: func(s *State) string { return fmt.Sprint(s.Field("c").Total()) },
		},
		{
			name: "a new owner's put clears a field it never saw",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(9), Fields: []FieldOp{{Name: "f", Kind: Register, Value: []byte(`"old owner"`)}}},
				{Origin: "b", Epoch: 2, Time: ts(1), Replace: true, Fields: reg(`"new"`)},
			},
			check: func(s *State) string { return fmt.Sprint(s.Field("f").Present(), " ", string(s.Field("r").Value)) },
		},
		{
			name: "a put replaces a set with its own elements and keeps counters",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Fields: []FieldOp{{Name: "c", Kind: Counter, Counts: []Count{{Origin: "a", P: 4}}},
					{Name: "s", Kind: Set, Add: []string{"x", "y"}}}},
				{Origin: "a", Epoch: 1, Time: ts(2), Replace: true, Fields: []FieldOp{{Name: "s", Kind: Set, Add: []string{"y", "z"}}}},
			},
			check: func(s *State) string { return fmt.Sprint(s.Field("s").Members(), s.Field("c").Total()) },
		},
		{
			name: "a patch after a put stays",
			ops: []*Op{
				{Origin: "a", Epoch: 1, Time: ts(1), Replace: true, Fields: reg(`"put"`)},
				{Origin: "a", Epoch: 1, Time: ts(2), Fields: []FieldOp{{Name: "f", Kind: Register, Value: []byte(`"patched"`)}}},
			},
			check: func(s *State) string { return fmt.Sprint(string(s.Field("f").Value), " ", string(s.Field("r").Value)) },
		},
	}
	want := []string{`"new"`, `"new"`, `"new"`, "false false", `true "new"`, "[x]", "2",
		`false "new"`, "[y z] 4", `"patched" "put"`}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := slices.Clone(tt.ops)
			slices.Reverse(rev)
			for _, order := range [][]*Op{tt.ops, rev} {
				var s State
				for _, op := range order {
					s.Apply(op)
				}
				if got := tt.check(&s); got != want[i] {
					t.Fatalf("got %s, want %s", got, want[i])
				}
			}
		})
	}
}
