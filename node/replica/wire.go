package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Limits of the sync protocol.
const (
	// MaxResponseBytes caps a compressed sync response on the wire.
	MaxResponseBytes = 16 << 20
	// maxDecodedBytes caps it once decompressed: a zstd bomb stops here.
	maxDecodedBytes = 64 << 20
	// maxRequestBytes caps a sync request (a version vector).
	maxRequestBytes = 1 << 20
)

// ErrMalformed is returned for a response that does not decode.
var ErrMalformed = errors.New("replica: malformed sync response")

// request is what a node asks a peer for: its heads for the datasets it
// wants, so the peer sends what lies beyond them.
type request struct {
	Datasets []string `json:"datasets"`
	Have     []have   `json:"have"`
}

type have struct {
	Dataset string `json:"d"`
	Origin  string `json:"o"`
	Seq     uint64 `json:"s"`
}

// batch is the ops of one stream after the requester's head, ending at a
// head signed by the stream's origin.
type batch struct {
	Head SignedHead
	Ops  [][]byte // canonical op encodings, consecutive seqs ending at Head.Seq
}

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDecodedBytes), zstd.WithDecoderConcurrency(0))
)

// encodeResponse writes batches in a simple binary form, zstd-compressed.
func encodeResponse(bs []batch) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(bs)))
	for _, x := range bs {
		b = appendBytes(b, []byte(x.Head.Dataset))
		b = appendBytes(b, []byte(x.Head.Origin))
		b = binary.AppendUvarint(b, x.Head.Seq)
		b = append(b, x.Head.Hash[:]...)
		b = appendBytes(b, x.Head.Sig)
		b = binary.AppendUvarint(b, uint64(len(x.Ops)))
		for _, op := range x.Ops {
			b = appendBytes(b, op)
		}
	}
	return encoder.EncodeAll(b, nil)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decodeResponse reverses encodeResponse; it never allocates more than the
// input justifies.
func decodeResponse(comp []byte) ([]batch, int, error) {
	raw, err := decoder.DecodeAll(comp, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: decompress: %v", ErrMalformed, err)
	}
	r := reader{b: raw}
	n := r.count()
	out := make([]batch, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		var x batch
		x.Head.Dataset = string(r.bytes())
		x.Head.Origin = string(r.bytes())
		x.Head.Seq = r.uvarint()
		copy(x.Head.Hash[:], r.take(32))
		x.Head.Sig = r.bytes()
		ops := r.count()
		for j := 0; j < ops && r.err == nil; j++ {
			x.Ops = append(x.Ops, r.bytes())
		}
		out = append(out, x)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	return out, len(raw), nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that the remaining input could hold.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errors.New("length beyond the input")
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte { return r.take(r.count()) }
