package replica

import (
	"bytes"
	"testing"
)

func TestResponseRoundTrip(t *testing.T) {
	in := []batch{
		{Head: SignedHead{Dataset: "d", Origin: "o", Seq: 3, Hash: [32]byte{1}, Sig: []byte("sig")}, Ops: [][]byte{{1, 2}, {3}, {}}},
		{Head: SignedHead{Dataset: "e", Origin: "p", Seq: 1}},
	}
	out, n, err := decodeResponse(encodeResponse(in))
	if err != nil || n == 0 || len(out) != 2 || out[0].Head.Seq != 3 || !bytes.Equal(out[0].Ops[0], []byte{1, 2}) ||
		out[1].Head.Dataset != "e" || string(out[0].Head.Sig) != "sig" {
		t.Fatalf("round trip: %+v %d %v", out, n, err)
	}
}

// FuzzDecodeResponse: whatever a peer sends, the decoder returns an error or
// batches, without panicking or allocating beyond its input.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(encodeResponse([]batch{{Head: SignedHead{Dataset: "d", Origin: "o", Seq: 1}, Ops: [][]byte{{1}}}}))
	f.Add(encodeResponse(nil))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := decodeResponse(b)
		if err == nil {
			// What decodes re-encodes to what decodes the same.
			again, _, err := decodeResponse(encodeResponse(out))
			if err != nil || len(again) != len(out) {
				t.Fatalf("re-decode: %v", err)
			}
		}
	})
}
