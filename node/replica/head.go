package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrBadSignature is returned for a stream head its origin did not sign.
var ErrBadSignature = errors.New("replica: bad signature")

// SignedHead is an origin's statement that op Seq of its stream in Dataset
// hashes to Hash (and so, through the chain, every op before it).
type SignedHead struct {
	Dataset string   `json:"dataset"`
	Origin  string   `json:"origin"`
	Seq     uint64   `json:"seq"`
	Hash    [32]byte `json:"hash"`
	Sig     []byte   `json:"sig"`
}

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

func hashOp(enc []byte) [32]byte { return sha256.Sum256(enc) }
