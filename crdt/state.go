package crdt

import (
	"bytes"
	"slices"
	"strings"
)

// State is the replicated state of one entity within one dataset: the join of
// the deltas of every op applied to it. The zero State is the empty entity.
//
// INVARIANT: Fields is sorted by Name with unique names; each field's lists
// are sorted and unique; no set dot is at or below Deleted or below Cleared,
// and no register holds a value written at or below Deleted or below Cleared
// (pruned on merge).
type State struct {
	Written Tag // greatest Tag of a write (non-delete op)
	Deleted Tag // greatest Tag of a delete op
	Cleared Tag // greatest Tag of a replacing write (a put)
	Fields  []FieldState
}

// FieldState is the state of one field. Which members are used depends on Kind.
type FieldState struct {
	Name string
	Kind Kind

	Tag   Tag    // register: tag of the winning write
	Value []byte // register: JSON value; nil when cleared

	Elems []Elem // set: sorted by Value

	Counts []Count // counter: per-origin totals, sorted by Origin
	Bases  []Count // counter: totals observed by the latest deletes
}

// Delta returns the op as a State that merges into replicas. The result
// shares byte slices with op; neither may be modified afterwards.
func (o *Op) Delta() *State {
	tag := o.Tag()
	s := &State{Fields: make([]FieldState, 0, len(o.Fields))}
	if o.Delete {
		s.Deleted = tag
	} else {
		s.Written = tag
	}
	if o.Replace {
		s.Cleared = tag
	}
	for i := range o.Fields {
		f := &o.Fields[i]
		fs := FieldState{Name: f.Name, Kind: f.Kind}
		switch f.Kind {
		case Register:
			fs.Tag, fs.Value = tag, f.Value
		case Set:
			adds := make([]Elem, len(f.Add))
			for j, v := range f.Add {
				adds[j] = Elem{Value: v, Adds: []Tag{tag}}
			}
			fs.Elems = mergeElems(adds, f.Remove)
		case Counter:
			fs.Counts, fs.Bases = f.Counts, f.Bases
		}
		s.Fields = append(s.Fields, fs)
	}
	s.prune()
	return s
}

// Apply merges op's delta into s.
func (s *State) Apply(op *Op) { s.Merge(op.Delta()) }

// Merge joins o into s. s may keep references to o's slices afterwards; the
// caller must not modify o. Merge is commutative, associative and idempotent.
func (s *State) Merge(o *State) {
	if o.Written.Compare(s.Written) > 0 {
		s.Written = o.Written
	}
	if o.Deleted.Compare(s.Deleted) > 0 {
		s.Deleted = o.Deleted
	}
	if o.Cleared.Compare(s.Cleared) > 0 {
		s.Cleared = o.Cleared
	}
	out := make([]FieldState, 0, max(len(s.Fields), len(o.Fields)))
	i, j := 0, 0
	for i < len(s.Fields) || j < len(o.Fields) {
		switch {
		case j == len(o.Fields) || i < len(s.Fields) && s.Fields[i].Name < o.Fields[j].Name:
			out = append(out, s.Fields[i])
			i++
		case i == len(s.Fields) || o.Fields[j].Name < s.Fields[i].Name:
			out = append(out, o.Fields[j])
			j++
		default:
			out = append(out, mergeField(s.Fields[i], o.Fields[j]))
			i, j = i+1, j+1
		}
	}
	s.Fields = out
	s.prune()
}

// mergeField joins two states of the same field. Should the kinds differ (a
// schema replaced under a new version), the greater kind wins whole, which
// keeps the merge a join.
func mergeField(a, b FieldState) FieldState {
	if a.Kind != b.Kind {
		if a.Kind > b.Kind {
			return a
		}
		return b
	}
	switch a.Kind {
	case Register:
		if c := b.Tag.Compare(a.Tag); c > 0 || c == 0 && bytes.Compare(b.Value, a.Value) > 0 {
			a.Tag, a.Value = b.Tag, b.Value
		}
	case Set:
		a.Elems = mergeElems(a.Elems, b.Elems)
	case Counter:
		a.Counts = mergeCounts(a.Counts, b.Counts)
		a.Bases = mergeCounts(a.Bases, b.Bases)
	}
	return a
}

// prune drops what the tombstones hide forever: set dots and register values
// written at or before Deleted (a delete) or before Cleared (a put, whose own
// values carry the Cleared tag itself and stay). Pruning after every merge
// keeps Merge a join, since both tags only grow.
func (s *State) prune() {
	if s.Deleted.IsZero() && s.Cleared.IsZero() {
		return
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		switch f.Kind {
		case Register:
			if s.hides(f.Tag) {
				f.Value = nil
			}
		case Set:
			elems := f.Elems[:0:0]
			for _, e := range f.Elems {
				e.Adds = s.visible(e.Adds)
				e.Removes = s.visible(e.Removes)
				if len(e.Adds) > 0 || len(e.Removes) > 0 {
					elems = append(elems, e)
				}
			}
			f.Elems = elems
		}
	}
}

// hides reports whether a value written at t is hidden by the tombstones.
func (s *State) hides(t Tag) bool {
	return !s.Deleted.IsZero() && t.Compare(s.Deleted) <= 0 || t.Compare(s.Cleared) < 0
}

// visible returns the suffix of the sorted list ts that the tombstones do
// not hide (what they hide is always a prefix), or nil.
func (s *State) visible(ts []Tag) []Tag {
	i, _ := slices.BinarySearchFunc(ts, s.Cleared, Tag.Compare) // first at or after Cleared
	if !s.Deleted.IsZero() {
		j, found := slices.BinarySearchFunc(ts, s.Deleted, Tag.Compare)
		if found {
			j++ // first after Deleted
		}
		i = max(i, j)
	}
	if i == len(ts) {
		return nil
	}
	return ts[i:]
}

func mergeElems(a, b []Elem) []Elem {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]Elem, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Value < b[j].Value:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Value < a[i].Value:
			out = append(out, b[j])
			j++
		default:
			out = append(out, Elem{
				Value:   a[i].Value,
				Adds:    unionTags(a[i].Adds, b[j].Adds),
				Removes: unionTags(a[i].Removes, b[j].Removes),
			})
			i, j = i+1, j+1
		}
	}
	return out
}

func unionTags(a, b []Tag) []Tag {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]Tag, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case j == len(b):
			c = -1
		case i == len(a):
			c = 1
		default:
			c = a[i].Compare(b[j])
		}
		switch {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

func mergeCounts(a, b []Count) []Count {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]Count, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Origin < b[j].Origin:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Origin < a[i].Origin:
			out = append(out, b[j])
			j++
		default:
			out = append(out, Count{Origin: a[i].Origin, P: max(a[i].P, b[j].P), N: max(a[i].N, b[j].N)})
			i, j = i+1, j+1
		}
	}
	return out
}

// Exists reports whether the entity is present in the dataset: written, and
// not deleted since.
func (s *State) Exists() bool { return s.Written.Compare(s.Deleted) > 0 }

// Field returns the state of the named field, or nil. The result points into s.
func (s *State) Field(name string) *FieldState {
	i, ok := slices.BinarySearchFunc(s.Fields, name, func(f FieldState, n string) int {
		return strings.Compare(f.Name, n)
	})
	if !ok {
		return nil
	}
	return &s.Fields[i]
}

// Present reports whether the field has a visible value.
func (f *FieldState) Present() bool {
	switch f.Kind {
	case Register:
		return f.Value != nil
	case Set:
		return len(f.Members()) > 0
	case Counter:
		return len(f.Counts) > 0
	}
	return false
}

// Members returns the visible elements of a set field, sorted. The caller
// owns the returned slice.
func (f *FieldState) Members() []string {
	var out []string
	for _, e := range f.Elems {
		for _, a := range e.Adds {
			if _, removed := slices.BinarySearchFunc(e.Removes, a, Tag.Compare); !removed {
				out = append(out, e.Value)
				break
			}
		}
	}
	return out
}

// Dots returns the visible add dots of element v of a set field: what a
// remove of v must name to remove it. The caller owns the returned slice.
func (f *FieldState) Dots(v string) []Tag {
	i, ok := slices.BinarySearchFunc(f.Elems, v, func(e Elem, v string) int { return strings.Compare(e.Value, v) })
	if !ok {
		return nil
	}
	var out []Tag
	e := f.Elems[i]
	for _, a := range e.Adds {
		if _, removed := slices.BinarySearchFunc(e.Removes, a, Tag.Compare); !removed {
			out = append(out, a)
		}
	}
	return out
}

// Total returns the value of a counter field: each origin's increments since
// the latest delete it was observed by, summed. It wraps around on overflow
// like int64 arithmetic.
func (f *FieldState) Total() int64 {
	var sum int64
	for _, c := range f.Counts {
		p, n := c.P, c.N
		if i, ok := slices.BinarySearchFunc(f.Bases, c.Origin, func(b Count, o string) int {
			return strings.Compare(b.Origin, o)
		}); ok {
			p, n = sub0(p, f.Bases[i].P), sub0(n, f.Bases[i].N)
		}
		sum += int64(p) - int64(n)
	}
	return sum
}

// Own returns the totals of origin in a counter field (zero if none): what
// the origin adds its next increment to.
func (f *FieldState) Own(origin string) Count {
	for _, c := range f.Counts {
		if c.Origin == origin {
			return c
		}
	}
	return Count{Origin: origin}
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
