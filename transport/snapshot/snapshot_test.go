package snapshot

import (
	"errors"
	"testing"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
)

func TestChunkRoundTrip(t *testing.T) {
	in := Chunk{
		Heads: []Head{{SignedHead: pull.SignedHead{Dataset: "d", Origin: "o", Seq: 4, Hash: [32]byte{7}, Sig: []byte("s")},
			WallMillis: -3, Logical: 9}},
		Entries: []Entry{{Key: "k1", State: []byte{1, 2}}, {Key: "k2", State: nil}},
		More:    true,
	}
	out, n, err := Decode(Encode(in))
	if err != nil || n == 0 || len(out.Heads) != 1 || out.Heads[0].Seq != 4 || out.Heads[0].WallMillis != -3 ||
		out.Heads[0].Logical != 9 || len(out.Entries) != 2 || out.Entries[1].Key != "k2" || !out.More || out.Error != "" {
		t.Fatalf("round trip: %+v %d %v", out, n, err)
	}
	out, _, err = Decode(Encode(Chunk{Error: "no"}))
	if err != nil || out.Error != "no" || out.More {
		t.Fatalf("error chunk: %+v %v", out, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(Chunk{Entries: []Entry{{Key: "k", State: []byte{1}}}})
	for name, b := range map[string][]byte{
		"not zstd":       []byte("hello"),
		"truncated zstd": good[:len(good)-2],
		"zstd bomb":      transport.Compress(make([]byte, MaxDecodedBytes+1)),
		"bad bool":       transport.Compress([]byte{0, 0, 0, 2}),
		"trailing bytes": transport.Compress([]byte{0, 0, 0, 0, 0}),
	} {
		if _, _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzDecode: whatever a peer sends, Decode returns an error or a chunk that
// re-encodes to the same chunk, without panicking.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(Chunk{Entries: []Entry{{Key: "k", State: []byte{1}}}, More: true}))
	f.Add(Encode(Chunk{Error: "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := Decode(b)
		if err != nil {
			return
		}
		again, _, err := Decode(Encode(c))
		if err != nil || len(again.Entries) != len(c.Entries) || len(again.Heads) != len(c.Heads) || again.More != c.More {
			t.Fatalf("re-decode: %+v %v", again, err)
		}
	})
}
