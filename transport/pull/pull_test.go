package pull

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport"
)

func TestResponseRoundTrip(t *testing.T) {
	in := Response{
		Batches: []Batch{
			{Head: SignedHead{Dataset: "d", Origin: "o", Seq: 3, Hash: [32]byte{1}, Sig: []byte("sig")}, Ops: [][]byte{{1, 2}, {3}, {}}},
			{Head: SignedHead{Dataset: "e", Origin: "p", Seq: 1}},
		},
		Truncated: []Truncated{{Dataset: "d", Origin: "q", Floor: 7}},
	}
	out, n, err := DecodeResponse(EncodeResponse(in))
	if err != nil || n == 0 || len(out.Batches) != 2 || out.Batches[0].Head.Seq != 3 || !bytes.Equal(out.Batches[0].Ops[0], []byte{1, 2}) ||
		out.Batches[1].Head.Dataset != "e" || string(out.Batches[0].Head.Sig) != "sig" ||
		len(out.Truncated) != 1 || out.Truncated[0] != in.Truncated[0] {
		t.Fatalf("round trip: %+v %d %v", out, n, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := EncodeResponse(Response{Batches: []Batch{{Head: SignedHead{Dataset: "d", Origin: "o", Seq: 1}, Ops: [][]byte{{1}}}}})
	bomb := transport.Compress(make([]byte, MaxDecodedBytes+1))
	for name, b := range map[string][]byte{
		"not zstd":       []byte("hello"),
		"truncated zstd": good[:len(good)-3],
		"zstd bomb":      bomb,
		"trailing bytes": transport.Compress(append([]byte{0, 0}, 9)),
		"count too big":  transport.Compress([]byte{0xff, 0x01}),
	} {
		if _, _, err := DecodeResponse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestSignedHead(t *testing.T) {
	key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	other, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	id, _ := peer.IDFromPrivateKey(key)
	otherID, _ := peer.IDFromPrivateKey(other)
	h := SignedHead{Dataset: "d", Origin: "o", Seq: 9, Hash: HashOp([]byte("op"))}
	if err := h.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := h.Verify(id); err != nil {
		t.Fatalf("verify by the signer: %v", err)
	}
	if err := h.Verify(otherID); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify by another key: %v, want ErrBadSignature", err)
	}
	h.Seq++
	if err := h.Verify(id); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify of a changed head: %v, want ErrBadSignature", err)
	}
}

// FuzzDecodeResponse: whatever a peer sends, the decoder returns an error or
// a response, without panicking or allocating beyond its input.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(EncodeResponse(Response{Batches: []Batch{{Head: SignedHead{Dataset: "d", Origin: "o", Seq: 1}, Ops: [][]byte{{1}}}}}))
	f.Add(EncodeResponse(Response{Truncated: []Truncated{{"d", "o", 3}}}))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := DecodeResponse(b)
		if err == nil {
			// What decodes re-encodes to what decodes the same.
			again, _, err := DecodeResponse(EncodeResponse(out))
			if err != nil || len(again.Batches) != len(out.Batches) || len(again.Truncated) != len(out.Truncated) {
				t.Fatalf("re-decode: %v", err)
			}
		}
	})
}

// FuzzDecodeHead: any bytes decode to a head or an error, never a panic;
// a head that decodes with nothing left over re-encodes to bytes that
// decode to the same head (not always the same bytes: a uvarint may have
// been written long).
func FuzzDecodeHead(f *testing.F) {
	f.Add(AppendHead(nil, SignedHead{Dataset: "d", Origin: "o", Seq: 7, Sig: []byte{1, 2}}))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &transport.Decoder{B: b}
		h := DecodeHead(d)
		if d.Finish() != nil {
			return
		}
		again := &transport.Decoder{B: AppendHead(nil, h)}
		if h2 := DecodeHead(again); again.Finish() != nil || h2.Dataset != h.Dataset || h2.Origin != h.Origin ||
			h2.Seq != h.Seq || h2.Hash != h.Hash || !bytes.Equal(h2.Sig, h.Sig) {
			t.Fatalf("%x decodes to %+v, which re-encodes to a different head %+v (%v)", b, h, h2, again.Err)
		}
	})
}
