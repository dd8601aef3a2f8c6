package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func frameBytes(t testing.TB, payloads ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range payloads {
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 127, 128, 300, coalesceBytes, coalesceBytes + 1, 1 << 20} {
		p := bytes.Repeat([]byte{'x'}, size)
		r := bufio.NewReader(bytes.NewReader(frameBytes(t, p, []byte("next"))))
		got, err := ReadFrame(r, 1<<20)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("size %d: payload differs (len %d)", size, len(got))
		}
		if got, err := ReadFrame(r, 1<<20); err != nil || string(got) != "next" {
			t.Fatalf("size %d: second frame %q, %v", size, got, err)
		}
		if _, err := ReadFrame(r, 1<<20); err != io.EOF {
			t.Fatalf("size %d: after last frame err = %v, want io.EOF", size, err)
		}
	}
}

func TestReadFrameTooLargeDoesNotAllocate(t *testing.T) {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], 1<<40)
	r := bufio.NewReader(bytes.NewReader(append(hdr[:n], "only a few bytes"...)))

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(r, 1<<20)
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if !strings.Contains(err.Error(), "1099511627776") || !strings.Contains(err.Error(), "1048576") {
		t.Fatalf("error does not give the size and the cap: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Fatalf("ReadFrame allocated %d bytes for a refused frame", d)
	}
	// Exactly at the cap is fine.
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(frameBytes(t, []byte("abcd")))), 4); err != nil {
		t.Fatalf("frame at the cap: %v", err)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(frameBytes(t, []byte("abcd")))), 3); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame one over the cap: %v", err)
	}
}

func TestReadFrameMalformed(t *testing.T) {
	full := frameBytes(t, []byte("0123456789"))
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"truncated payload", full[:6], io.ErrUnexpectedEOF},
		{"prefix only", full[:1], io.ErrUnexpectedEOF},
		{"truncated prefix", []byte{0x80}, io.ErrUnexpectedEOF},
		{"overlong prefix", bytes.Repeat([]byte{0x80}, 11), ErrBadFrameLength},
		{"overflowing prefix", append(bytes.Repeat([]byte{0xff}, 9), 0x02), ErrBadFrameLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bufio.NewReader(bytes.NewReader(tc.in)), 1<<20)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frameBytes(f, []byte("hello")))
	f.Add(frameBytes(f, nil))
	f.Add([]byte{0x80})
	f.Add(bytes.Repeat([]byte{0xff}, 11))
	f.Add(append(bytes.Repeat([]byte{0xff}, 9), 0x01))
	f.Fuzz(func(t *testing.T, in []byte) {
		const maxBytes = 1 << 12
		got, err := ReadFrame(bufio.NewReader(bytes.NewReader(in)), maxBytes)
		if err != nil {
			return
		}
		if len(got) > maxBytes {
			t.Fatalf("frame of %d bytes over cap %d", len(got), maxBytes)
		}
		// The payload is the bytes right after the length prefix.
		br := bytes.NewReader(in)
		n, err := readUvarint(br)
		if err != nil || n != uint64(len(got)) {
			t.Fatalf("prefix %d, %v; payload %d bytes", n, err, len(got))
		}
		start := len(in) - br.Len()
		if !bytes.Equal(in[start:start+len(got)], got) {
			t.Fatal("payload differs from input")
		}
	})
}

const testProto protocol.ID = "/lienthong/test/rr/1.0.0"

func TestRequestHandle(t *testing.T) {
	a, b := newTestNode(t), newTestNode(t)
	admitEachOther(a, b)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := connectVia(ctx, t, a, b, "tcp"); err != nil {
		t.Fatal(err)
	}
	errHandler := errors.New("handler failed")
	Handle(b, testProto, 64, 2*time.Second, func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
		switch string(req) {
		case "fail":
			return nil, errHandler
		case "slow":
			<-ctx.Done()
			return []byte("too late"), nil
		case "big":
			return bytes.Repeat([]byte{'b'}, 100), nil
		case "who":
			return []byte(from.String()), nil
		}
		return append([]byte("re: "), req...), nil
	})

	t.Run("round trip", func(t *testing.T) {
		resp, err := Request(ctx, a, b.ID(), testProto, []byte("hello"), 64)
		if err != nil || string(resp) != "re: hello" {
			t.Fatalf("resp %q, err %v", resp, err)
		}
		resp, err = Request(ctx, a, b.ID(), testProto, []byte("who"), 64)
		if err != nil || string(resp) != a.ID().String() {
			t.Fatalf("handler saw peer %q, want %s (err %v)", resp, a.ID(), err)
		}
		resp, err = Request(ctx, a, b.ID(), testProto, nil, 64)
		if err != nil || string(resp) != "re: " {
			t.Fatalf("empty request: resp %q, err %v", resp, err)
		}
	})
	t.Run("no deadline uses the default", func(t *testing.T) {
		resp, err := Request(context.Background(), a, b.ID(), testProto, []byte("x"), 64)
		if err != nil || string(resp) != "re: x" {
			t.Fatalf("resp %q, err %v", resp, err)
		}
	})
	t.Run("handler error resets", func(t *testing.T) {
		_, err := Request(ctx, a, b.ID(), testProto, []byte("fail"), 64)
		if !errors.Is(err, network.ErrReset) {
			t.Fatalf("err = %v, want a stream reset", err)
		}
		if !strings.Contains(err.Error(), b.ID().String()) || !strings.Contains(err.Error(), string(testProto)) {
			t.Fatalf("error does not name peer and protocol: %v", err)
		}
	})
	t.Run("slow handler hits the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Request(ctx, a, b.ID(), testProto, []byte("slow"), 64)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Fatalf("Request returned after %v, not at its deadline", el)
		}
	})
	t.Run("cancel aborts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := Request(ctx, a, b.ID(), testProto, []byte("slow"), 64)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("oversized request refused", func(t *testing.T) {
		_, err := Request(ctx, a, b.ID(), testProto, bytes.Repeat([]byte{'r'}, 1000), 64)
		if err == nil {
			t.Fatal("oversized request accepted")
		}
		t.Logf("oversized request: %v", err)
	})
	t.Run("oversized response refused", func(t *testing.T) {
		_, err := Request(ctx, a, b.ID(), testProto, []byte("big"), 64)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v, want ErrFrameTooLarge", err)
		}
	})
	t.Run("unknown protocol", func(t *testing.T) {
		_, err := Request(ctx, a, b.ID(), "/lienthong/test/none/1.0.0", []byte("x"), 64)
		if err == nil {
			t.Fatal("request on an unhandled protocol succeeded")
		}
	})
	t.Run("still healthy", func(t *testing.T) {
		resp, err := Request(ctx, a, b.ID(), testProto, []byte("again"), 64)
		if err != nil || string(resp) != "re: again" {
			t.Fatalf("resp %q, err %v", resp, err)
		}
	})
}
