package push

import (
	"errors"
	"testing"
)

// FuzzDecodeFrames: any bytes a peer sends as a subscribe or credit frame
// decode, or fail with ErrMalformed; never a panic. What decodes encodes
// back to a frame that decodes to the same value.
func FuzzDecodeFrames(f *testing.F) {
	f.Add(EncodeSubscribe(Subscribe{WindowBytes: 32 << 20}))
	f.Add(EncodeCredit(1))
	f.Add(EncodeCredit(1 << 40))
	f.Add([]byte{0x80})
	f.Add([]byte(`{"window_bytes":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := DecodeSubscribe(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("subscribe %q: %v, not ErrMalformed", b, err)
			}
		} else if again, err := DecodeSubscribe(EncodeSubscribe(s)); err != nil || again.WindowBytes != s.WindowBytes {
			t.Fatalf("subscribe %q: round trip %+v %v", b, again, err)
		}
		if n, err := DecodeCredit(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("credit %q: %v, not ErrMalformed", b, err)
			}
		} else if m, err := DecodeCredit(EncodeCredit(n)); err != nil || m != n {
			t.Fatalf("credit %q: round trip %d %v", b, m, err)
		}
	})
}
