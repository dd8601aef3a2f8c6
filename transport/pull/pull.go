// Package pull is the protocol by which a node asks a peer for the ops it
// lacks (/lienthong/sync/1.0.0) and tells peers it has new ones
// (/lienthong/notify/1.0.0). docs/protocol.md specifies both, message by
// message.
//
// A request is the requester's version vector for the datasets it wants; the
// answer holds, for each stream the peer holds further, the missing ops up to
// a head signed by the stream's origin, and names the streams whose history
// the peer no longer holds below what the requester has (ask for a dataset
// snapshot, package transport/snapshot).
//
// pull imports transport and nothing else of lienthong.
package pull

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport"
)

// Protocol IDs.
const (
	ID       = "/lienthong/sync/1.0.0"
	NotifyID = "/lienthong/notify/1.0.0"
)

// Limits of the protocol.
const (
	// MaxRequestBytes caps a request (a version vector in JSON).
	MaxRequestBytes = 1 << 20
	// MaxResponseBytes caps a response on the wire (zstd).
	MaxResponseBytes = 16 << 20
	// MaxDecodedBytes caps a response once decompressed.
	MaxDecodedBytes = transport.MaxDecodedBytes
	// MaxNotifyBytes caps a notification (the sender's heads of what
	// changed, in JSON) and its answer.
	MaxNotifyBytes = 64 << 10
)

// ErrMalformed is returned (wrapped) for a response that does not decode.
var ErrMalformed = errors.New("pull: malformed response")

// ErrBadSignature is returned (wrapped) for a stream head its origin did not sign.
var ErrBadSignature = errors.New("pull: bad signature")

// Request is what a node asks a peer for: the datasets it wants, and its
// heads, so that the peer sends only what lies beyond them.
type Request struct {
	Datasets []string `json:"datasets"`
	Have     []Have   `json:"have"`
	// Synced lowers Have for the streams the requester holds further than
	// it has synced (replicated ops are applied before their sync): the
	// peer sends what is beyond Have, but counts as acknowledged only what
	// a crash cannot take back.
	Synced []Have `json:"synced,omitempty"`
}

// Have is one entry of the requester's version vector.
type Have struct {
	Dataset string `json:"d"`
	Origin  string `json:"o"`
	Seq     uint64 `json:"s"`
}

// Response is a peer's answer.
type Response struct {
	Batches []Batch
	// Truncated are streams the peer holds further than the requester but
	// whose ops just after the requester's head it no longer holds.
	Truncated []Truncated
}

// Batch is the ops of one stream after the requester's head, ending at a
// head signed by the stream's origin.
type Batch struct {
	Head SignedHead
	Ops  [][]byte // canonical op encodings, consecutive seqs ending at Head.Seq
}

// Truncated says that a peer holds stream (Dataset, Origin) only above Floor.
type Truncated struct {
	Dataset, Origin string
	Floor           uint64
}

// SignedHead is an origin's statement that op Seq of its stream in Dataset
// hashes to Hash (and so, through the hash chain, every op before it).
type SignedHead struct {
	Dataset string   `json:"dataset"`
	Origin  string   `json:"origin"`
	Seq     uint64   `json:"seq"`
	Hash    [32]byte `json:"hash"`
	Sig     []byte   `json:"sig"`
}

// message is what the origin signs.
func (h *SignedHead) message() []byte {
	b := []byte("lienthong/head/v1\x00")
	b = append(b, h.Dataset...)
	b = append(b, 0)
	b = append(b, h.Origin...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	return append(b, h.Hash[:]...)
}

// Sign signs h with key.
func (h *SignedHead) Sign(key crypto.PrivKey) error {
	sig, err := key.Sign(h.message())
	h.Sig = sig
	return err
}

// Verify checks that the holder of peer ID origin signed h.
func (h *SignedHead) Verify(origin peer.ID) error {
	pub, err := origin.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: no key in peer ID %s: %v", ErrBadSignature, origin, err)
	}
	ok, err := pub.Verify(h.message(), h.Sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: head %s/%s@%d", ErrBadSignature, h.Dataset, h.Origin, h.Seq)
	}
	return nil
}

// HashOp is the hash that chains ops: SHA-256 of the op's canonical encoding.
func HashOp(enc []byte) [32]byte { return sha256.Sum256(enc) }

// AppendHead appends h's fields in the binary form of the protocol.
func AppendHead(b []byte, h SignedHead) []byte {
	b = transport.AppendBytes(b, []byte(h.Dataset))
	b = transport.AppendBytes(b, []byte(h.Origin))
	b = binary.AppendUvarint(b, h.Seq)
	b = append(b, h.Hash[:]...)
	return transport.AppendBytes(b, h.Sig)
}

// DecodeHead reads a head written by AppendHead.
func DecodeHead(d *transport.Decoder) SignedHead {
	var h SignedHead
	h.Dataset = string(d.Bytes())
	h.Origin = string(d.Bytes())
	h.Seq = d.Uvarint()
	copy(h.Hash[:], d.Take(32))
	h.Sig = d.Bytes()
	return h
}

// EncodeResponse writes r in the binary form of the protocol, zstd-compressed.
func EncodeResponse(r Response) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(r.Batches)))
	for _, x := range r.Batches {
		b = AppendHead(b, x.Head)
		b = binary.AppendUvarint(b, uint64(len(x.Ops)))
		for _, op := range x.Ops {
			b = transport.AppendBytes(b, op)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Truncated)))
	for _, t := range r.Truncated {
		b = transport.AppendBytes(b, []byte(t.Dataset))
		b = transport.AppendBytes(b, []byte(t.Origin))
		b = binary.AppendUvarint(b, t.Floor)
	}
	return transport.Compress(b)
}

// DecodeResponse reverses EncodeResponse and returns the decoded size too
// (for the compression ratio). It never allocates more than its input
// justifies; slices of the result alias one decompressed buffer.
func DecodeResponse(comp []byte) (Response, int, error) {
	raw, err := transport.Decompress(comp, MaxDecodedBytes)
	if err != nil {
		return Response{}, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	d := &transport.Decoder{B: raw}
	var r Response
	n := d.Count()
	r.Batches = make([]Batch, 0, n)
	for i := 0; i < n && d.Err == nil; i++ {
		x := Batch{Head: DecodeHead(d)}
		ops := d.Count()
		for j := 0; j < ops && d.Err == nil; j++ {
			x.Ops = append(x.Ops, d.Bytes())
		}
		r.Batches = append(r.Batches, x)
	}
	n = d.Count()
	for i := 0; i < n && d.Err == nil; i++ {
		r.Truncated = append(r.Truncated, Truncated{Dataset: string(d.Bytes()), Origin: string(d.Bytes()), Floor: d.Uvarint()})
	}
	if err := d.Finish(); err != nil {
		return Response{}, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return r, len(raw), nil
}
