package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrCorrupt is returned by the decoders for bytes that are not the canonical
// encoding of an op or a state.
var ErrCorrupt = errors.New("crdt: corrupt encoding")

// Format versions, the first byte of every encoding.
const (
	opFormat = 1
	// State formats: 2 writes a register's tag as a 0 byte when it is the
	// state's Written tag; 3 is 2 with the Cleared tag after Deleted, and is
	// written only when Cleared is set, so states without a put keep their
	// encoding (and their digests).
	stateFormat        = 2
	stateFormatCleared = 3
)

// Op kinds, the byte after an op's key: a write, a delete (Op.Delete) or
// a replacing write (Op.Replace). Ops of builds before Replace have only
// the first two, which read the same.
const (
	opWrite   = 0
	opDelete  = 1
	opReplace = 2
)

// maxCount bounds every list and string length read from the wire, far
// above the write limits (limits.go). A hostile length cannot make the
// decoder allocate anyway: a length must also fit in the input left.
const maxCount = 64 << 20

// AppendOp appends the canonical encoding of op to dst. op's lists must be
// sorted and unique as documented on Op; DecodeOp rejects them otherwise.
//
// REQUIRES: not both op.Delete and op.Replace.
func AppendOp(dst []byte, op *Op) []byte {
	dst = append(dst, opFormat)
	dst = appendString(dst, op.Dataset)
	dst = appendString(dst, op.Origin)
	dst = binary.AppendUvarint(dst, op.Seq)
	dst = append(dst, op.Prev[:]...)
	dst = binary.AppendUvarint(dst, op.Epoch)
	dst = binary.AppendUvarint(dst, op.MetaIndex)
	dst = appendTimestamp(dst, op.Time)
	dst = appendString(dst, op.Type)
	dst = appendString(dst, op.Key)
	switch {
	case op.Delete:
		dst = append(dst, opDelete)
	case op.Replace:
		dst = append(dst, opReplace)
	default:
		dst = append(dst, opWrite)
	}
	dst = binary.AppendUvarint(dst, uint64(len(op.Fields)))
	for i := range op.Fields {
		f := &op.Fields[i]
		dst = appendString(dst, f.Name)
		dst = append(dst, byte(f.Kind))
		switch f.Kind {
		case Register:
			dst = appendValue(dst, f.Value)
		case Set:
			dst = binary.AppendUvarint(dst, uint64(len(f.Add)))
			for _, v := range f.Add {
				dst = appendString(dst, v)
			}
			dst = binary.AppendUvarint(dst, uint64(len(f.Remove)))
			for _, e := range f.Remove {
				dst = appendString(dst, e.Value)
				dst = appendTags(dst, e.Removes)
			}
		case Counter:
			dst = appendCounts(dst, f.Counts)
			dst = appendCounts(dst, f.Bases)
		}
	}
	return dst
}

// DecodeOp decodes an op encoded by AppendOp. The result does not alias b.
func DecodeOp(b []byte) (*Op, error) {
	d := decoder{b: b}
	if v := d.byte(); v != opFormat && d.err == nil {
		return nil, fmt.Errorf("%w: op format %d, this build reads %d", ErrCorrupt, v, opFormat)
	}
	op := &Op{}
	op.Dataset = d.string()
	op.Origin = d.string()
	op.Seq = d.uvarint()
	copy(op.Prev[:], d.take(32))
	op.Epoch = d.uvarint()
	op.MetaIndex = d.uvarint()
	op.Time = d.timestamp()
	op.Type = d.string()
	op.Key = d.string()
	switch d.byte() {
	case opWrite:
	case opDelete:
		op.Delete = true
	case opReplace:
		op.Replace = true
	default:
		d.fail("bad op kind")
	}
	n := d.count()
	if n > 0 {
		op.Fields = make([]FieldOp, n)
	}
	for i := range op.Fields {
		f := &op.Fields[i]
		f.Name = d.string()
		if i > 0 && f.Name <= op.Fields[i-1].Name {
			d.fail("op fields not sorted")
		}
		f.Kind = Kind(d.byte())
		switch f.Kind {
		case Register:
			f.Value = d.value()
		case Set:
			f.Add = make([]string, d.count())
			for j := range f.Add {
				f.Add[j] = d.string()
				if j > 0 && f.Add[j] <= f.Add[j-1] {
					d.fail("set adds not sorted")
				}
			}
			f.Remove = make([]Elem, d.count())
			for j := range f.Remove {
				f.Remove[j] = Elem{Value: d.string(), Removes: d.tags()}
				if j > 0 && f.Remove[j].Value <= f.Remove[j-1].Value {
					d.fail("set removes not sorted")
				}
			}
			if len(f.Add) == 0 {
				f.Add = nil
			}
			if len(f.Remove) == 0 {
				f.Remove = nil
			}
		case Counter:
			f.Counts = d.counts()
			f.Bases = d.counts()
		default:
			d.fail(fmt.Sprintf("field %q: unknown kind %d", f.Name, f.Kind))
		}
		if d.err != nil {
			break
		}
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("decode op: %w", err)
	}
	return op, nil
}

// AppendState appends the canonical encoding of s to dst.
func AppendState(dst []byte, s *State) []byte {
	if s.Cleared.IsZero() {
		dst = append(dst, stateFormat)
	} else {
		dst = append(dst, stateFormatCleared)
	}
	dst = appendTag(dst, s.Written)
	dst = appendTag(dst, s.Deleted)
	if !s.Cleared.IsZero() {
		dst = appendTag(dst, s.Cleared)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Fields)))
	for i := range s.Fields {
		f := &s.Fields[i]
		dst = appendString(dst, f.Name)
		dst = append(dst, byte(f.Kind))
		switch f.Kind {
		case Register:
			// Most registers were set by the state's last write: say so in
			// one byte instead of repeating the tag.
			if f.Tag == s.Written {
				dst = append(dst, 0)
			} else {
				dst = appendTag(append(dst, 1), f.Tag)
			}
			dst = appendValue(dst, f.Value)
		case Set:
			dst = binary.AppendUvarint(dst, uint64(len(f.Elems)))
			for _, e := range f.Elems {
				dst = appendString(dst, e.Value)
				dst = appendTags(dst, e.Adds)
				dst = appendTags(dst, e.Removes)
			}
		case Counter:
			dst = appendCounts(dst, f.Counts)
			dst = appendCounts(dst, f.Bases)
		}
	}
	return dst
}

// DecodeState decodes a state encoded by AppendState. The result does not alias b.
func DecodeState(b []byte) (*State, error) {
	d := decoder{b: b}
	format := d.byte()
	if format != stateFormat && format != stateFormatCleared && d.err == nil {
		return nil, fmt.Errorf("%w: state format %d, this build reads %d and %d", ErrCorrupt, format, stateFormat, stateFormatCleared)
	}
	s := &State{Written: d.tag(), Deleted: d.tag()}
	if format == stateFormatCleared {
		if s.Cleared = d.tag(); s.Cleared.IsZero() {
			d.fail("state format 3 with a zero Cleared tag")
		}
	}
	n := d.count()
	if n > 0 {
		s.Fields = make([]FieldState, n)
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		f.Name = d.string()
		if i > 0 && f.Name <= s.Fields[i-1].Name {
			d.fail("state fields not sorted")
		}
		f.Kind = Kind(d.byte())
		switch f.Kind {
		case Register:
			switch d.byte() {
			case 0:
				f.Tag = s.Written
			case 1:
				if f.Tag = d.tag(); f.Tag == s.Written {
					d.fail("register tag spelled out though it is the written tag")
				}
			default:
				d.fail("bad register tag marker")
			}
			f.Value = d.value()
		case Set:
			if n := d.count(); n > 0 {
				f.Elems = make([]Elem, n)
			}
			for j := range f.Elems {
				f.Elems[j] = Elem{Value: d.string(), Adds: d.tags(), Removes: d.tags()}
				if j > 0 && f.Elems[j].Value <= f.Elems[j-1].Value {
					d.fail("set elements not sorted")
				}
			}
		case Counter:
			f.Counts = d.counts()
			f.Bases = d.counts()
		default:
			d.fail(fmt.Sprintf("field %q: unknown kind %d", f.Name, f.Kind))
		}
		if d.err != nil {
			break
		}
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	return s, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendValue encodes a register value, distinguishing nil (cleared) from empty.
func appendValue(dst []byte, v []byte) []byte {
	if v == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendTimestamp(dst []byte, t Timestamp) []byte {
	dst = binary.AppendVarint(dst, t.WallMillis)
	return binary.AppendUvarint(dst, uint64(t.Logical))
}

func appendTag(dst []byte, t Tag) []byte {
	dst = binary.AppendUvarint(dst, t.Epoch)
	dst = appendTimestamp(dst, t.Time)
	return appendString(dst, t.Origin)
}

func appendTags(dst []byte, ts []Tag) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	for _, t := range ts {
		dst = appendTag(dst, t)
	}
	return dst
}

func appendCounts(dst []byte, cs []Count) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(cs)))
	for _, c := range cs {
		dst = appendString(dst, c.Origin)
		dst = binary.AppendUvarint(dst, c.P)
		dst = binary.AppendUvarint(dst, c.N)
	}
	return dst
}

// decoder reads the canonical encoding. After the first error every read
// returns a zero value, so callers check d.err once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// count reads a list length and checks it against what the input could hold.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > maxCount || n > uint64(len(d.b)) {
		d.fail("list too long")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	return string(d.take(d.count()))
}

func (d *decoder) value() []byte {
	if !d.bool() {
		return nil
	}
	return append([]byte{}, d.take(d.count())...)
}

func (d *decoder) timestamp() Timestamp {
	wall := d.varint()
	logical := d.uvarint()
	if logical > 1<<32-1 {
		d.fail("logical clock overflows 32 bits")
	}
	return Timestamp{WallMillis: wall, Logical: uint32(logical)}
}

func (d *decoder) tag() Tag {
	return Tag{Epoch: d.uvarint(), Time: d.timestamp(), Origin: d.string()}
}

func (d *decoder) tags() []Tag {
	n := d.count()
	if n == 0 {
		return nil
	}
	ts := make([]Tag, n)
	for i := range ts {
		ts[i] = d.tag()
		if i > 0 && ts[i].Compare(ts[i-1]) <= 0 {
			d.fail("tags not sorted")
		}
	}
	return ts
}

func (d *decoder) counts() []Count {
	n := d.count()
	if n == 0 {
		return nil
	}
	cs := make([]Count, n)
	for i := range cs {
		cs[i] = Count{Origin: d.string(), P: d.uvarint(), N: d.uvarint()}
		if i > 0 && strings.Compare(cs[i].Origin, cs[i-1].Origin) <= 0 {
			d.fail("counts not sorted")
		}
	}
	return cs
}
