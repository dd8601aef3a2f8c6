// Package digest is the protocol by which two nodes compare their replicas
// of a dataset without sending its data (/lienthong/digest/1.0.0): a digest
// is one hash per bucket of keys, so replicas that differ can name the key
// ranges where. docs/protocol.md specifies it.
//
// digest imports nothing of lienthong.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// ID is the protocol ID.
const ID = "/lienthong/digest/1.0.0"

// Limits of the protocol.
const (
	// MaxRequestBytes caps a request: a dataset name.
	MaxRequestBytes = 256
	// MaxResponseBytes caps a digest in JSON.
	MaxResponseBytes = 1 << 20
)

// Buckets is the number of key ranges a digest splits a dataset into: a key
// falls in the bucket of the first byte of its SHA-256.
const Buckets = 256

// Digest summarises a dataset's entity states on one node.
type Digest struct {
	Dataset  string `json:"dataset"`
	Entities int    `json:"entities"`
	// Hex is each bucket's hash (its first 8 bytes, in hex).
	Hex [Buckets]string `json:"buckets"`
	// Total is the hash of every bucket, in hex.
	Total string `json:"total"`
	// Error, if not empty, is why the peer gave no digest.
	Error string `json:"error,omitempty"`
}

// Builder computes a Digest from (key, state) pairs given in any order.
type Builder struct {
	d  Digest
	hs [Buckets][]byte
}

// NewBuilder starts the digest of dataset name.
func NewBuilder(name string) *Builder { return &Builder{d: Digest{Dataset: name}} }

// Add adds one entity: its key and the canonical encoding of its state.
func (b *Builder) Add(key string, state []byte) {
	k := sha256.Sum256([]byte(key))
	h := sha256.New()
	h.Write([]byte(key))
	h.Write(state)
	b.hs[k[0]] = h.Sum(b.hs[k[0]])
	b.d.Entities++
}

// Digest returns the digest of what was added.
func (b *Builder) Digest() *Digest {
	d := b.d
	all := sha256.New()
	for i := range b.hs {
		sum := sha256.Sum256(b.hs[i])
		d.Hex[i] = fmt.Sprintf("%x", sum[:8])
		all.Write(sum[:])
	}
	d.Total = fmt.Sprintf("%x", all.Sum(nil))
	return &d
}

// Differ returns the buckets in which a and b differ, none if they agree.
func Differ(a, b *Digest) []int {
	var out []int
	for i := range a.Hex {
		if a.Hex[i] != b.Hex[i] {
			out = append(out, i)
		}
	}
	return out
}

// ErrMalformed is returned (wrapped) by Decode for a response that is not a
// digest of the dataset asked for.
var ErrMalformed = errors.New("digest: malformed response")

// Decode parses a peer's digest of dataset: JSON with the dataset's name,
// 256 buckets of 16 hex digits and a total of 64, or an error from the peer
// (returned as an error). Nothing a peer sends makes it panic.
func Decode(b []byte, dataset string) (*Digest, error) {
	var d Digest
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if d.Dataset != dataset {
		return nil, fmt.Errorf("%w: a digest of %q, not of %q", ErrMalformed, d.Dataset, dataset)
	}
	if d.Error != "" {
		return nil, fmt.Errorf("the peer gave no digest of %s: %s", dataset, d.Error)
	}
	if d.Entities < 0 {
		return nil, fmt.Errorf("%w: %d entities", ErrMalformed, d.Entities)
	}
	for i, h := range d.Hex {
		if len(h) != 16 || !isHex(h) {
			return nil, fmt.Errorf("%w: bucket %d is %q, not 16 hex digits", ErrMalformed, i, h)
		}
	}
	if len(d.Total) != 64 || !isHex(d.Total) {
		return nil, fmt.Errorf("%w: total %q is not 64 hex digits", ErrMalformed, d.Total)
	}
	return &d, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
