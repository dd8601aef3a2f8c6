package transport

import (
	"encoding/binary"
	"errors"
)

// AppendBytes appends b with its length as a uvarint: the field encoding of
// lienthong's binary messages.
func AppendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Decoder reads the fields of a binary message. The first malformed field
// sets Err; later reads return zero values. It never allocates more than
// its input holds.
type Decoder struct {
	B   []byte
	Err error
}

// Take returns the next n bytes, a subslice of the input.
func (d *Decoder) Take(n int) []byte {
	if d.Err != nil {
		return nil
	}
	if n < 0 || n > len(d.B) {
		d.Err = errors.New("truncated")
		return nil
	}
	out := d.B[:n:n]
	d.B = d.B[n:]
	return out
}

// Uvarint reads a uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Err = errors.New("bad varint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Count reads a length or count that the rest of the input could hold
// (every counted item takes at least one byte).
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.Err = errors.New("length beyond the input")
		return 0
	}
	return int(n)
}

// Bytes reads a field written by AppendBytes.
func (d *Decoder) Bytes() []byte { return d.Take(d.Count()) }

// Bool reads one byte, 0 or 1.
func (d *Decoder) Bool() bool {
	b := d.Take(1)
	if d.Err == nil && b[0] > 1 {
		d.Err = errors.New("bad bool")
	}
	return d.Err == nil && b[0] == 1
}

// Finish returns the first error, or one for trailing bytes.
func (d *Decoder) Finish() error {
	if d.Err == nil && len(d.B) > 0 {
		d.Err = errors.New("trailing bytes")
	}
	return d.Err
}
