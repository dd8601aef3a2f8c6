// Package snapshot is the protocol by which a node fetches a dataset's state
// from a peer in chunks (/lienthong/snapshot/1.0.0), when the peer no longer
// holds the ops the node lacks. docs/protocol.md specifies it.
//
// The first chunk carries the peer's version vector for the dataset, each
// head signed by its stream's origin; every chunk carries entity states in
// key order after a cursor, so a broken transfer resumes from the last key
// received. States only grow, so a chunk read later still holds every op up
// to the version vector of the first.
//
// snapshot imports transport and transport/pull, nothing else of lienthong.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
)

// ID is the protocol ID.
const ID = "/lienthong/snapshot/1.0.0"

// Limits of the protocol.
const (
	// MaxRequestBytes caps a request.
	MaxRequestBytes = 4 << 10
	// MaxResponseBytes caps a chunk on the wire (zstd).
	MaxResponseBytes = 16 << 20
	// MaxDecodedBytes caps a chunk once decompressed.
	MaxDecodedBytes = transport.MaxDecodedBytes
)

// ErrMalformed is returned (wrapped) for a chunk that does not decode.
var ErrMalformed = errors.New("snapshot: malformed chunk")

// Request asks for one chunk of a dataset's states.
type Request struct {
	Dataset string `json:"dataset"`
	// After is the cursor: the last key received; "" starts at the first.
	After string `json:"after,omitempty"`
	// Heads asks for the version vector (on the first chunk).
	Heads bool `json:"heads,omitempty"`
}

// Head is a stream head of the version vector: signed by the stream's
// origin, with the HLC of the op at Seq (not signed: informational).
type Head struct {
	pull.SignedHead
	WallMillis int64
	Logical    uint32
}

// Entry is one entity's state in the dataset.
type Entry struct {
	Key   string
	State []byte // canonical encoding of the entity's CRDT state
}

// Chunk is one answer.
type Chunk struct {
	// Error, if not empty, is why the peer refused (the other fields are empty).
	Error   string
	Heads   []Head
	Entries []Entry
	// More is false on the last chunk.
	More bool
}

// Encode writes c in the binary form of the protocol, zstd-compressed (at
// a level for bulk transfers).
func Encode(c Chunk) []byte {
	var b []byte
	b = transport.AppendBytes(b, []byte(c.Error))
	b = binary.AppendUvarint(b, uint64(len(c.Heads)))
	for _, h := range c.Heads {
		b = pull.AppendHead(b, h.SignedHead)
		b = binary.AppendVarint(b, h.WallMillis)
		b = binary.AppendUvarint(b, uint64(h.Logical))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Entries)))
	for _, e := range c.Entries {
		b = transport.AppendBytes(b, []byte(e.Key))
		b = transport.AppendBytes(b, e.State)
	}
	if c.More {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return transport.CompressSmaller(b)
}

// Decode reverses Encode and returns the decoded size too. It never
// allocates more than its input justifies.
func Decode(comp []byte) (Chunk, int, error) {
	raw, err := transport.Decompress(comp, MaxDecodedBytes)
	if err != nil {
		return Chunk{}, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	d := &transport.Decoder{B: raw}
	var c Chunk
	c.Error = string(d.Bytes())
	n := d.Count()
	for i := 0; i < n && d.Err == nil; i++ {
		h := Head{SignedHead: pull.DecodeHead(d)}
		w, m := binary.Varint(d.B)
		if m <= 0 {
			d.Err = errors.New("bad varint")
			break
		}
		d.B = d.B[m:]
		h.WallMillis = w
		l := d.Uvarint()
		if l > 1<<32-1 {
			d.Err = errors.New("logical clock out of range")
		}
		h.Logical = uint32(l)
		c.Heads = append(c.Heads, h)
	}
	n = d.Count()
	for i := 0; i < n && d.Err == nil; i++ {
		c.Entries = append(c.Entries, Entry{Key: string(d.Bytes()), State: d.Bytes()})
	}
	c.More = d.Bool()
	if err := d.Finish(); err != nil {
		return Chunk{}, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, len(raw), nil
}
