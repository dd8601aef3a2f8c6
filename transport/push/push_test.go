package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
)

// newPairHosts starts two hosts on loopback that admit each other.
func newPairHosts(t *testing.T) (host.Host, host.Host) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var hs [2]host.Host
	var gs [2]*transport.Gater
	for i := range hs {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		gs[i] = transport.NewGater(logger)
		h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: gs[i], Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hs[i] = h
	}
	for i := range hs {
		gs[i].SetAdmitted([]peer.ID{hs[0].ID(), hs[1].ID()})
		hs[i].Peerstore().AddAddrs(hs[1-i].ID(), hs[1-i].Addrs(), peerstore.PermanentAddrTTL)
	}
	return hs[0], hs[1]
}

// feed hands out frames of size bytes, counting the calls of Next and
// the bytes credited.
type feed struct {
	size     int
	calls    chan int
	n        int
	credited atomic.Uint64
}

func (f *feed) Credited(n uint64) { f.credited.Add(n) }

func (f *feed) Next(ctx context.Context, _ time.Duration) ([]byte, error) {
	f.n++
	select {
	case f.calls <- f.n:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return bytes.Repeat([]byte{byte(f.n)}, f.size), nil
}

func TestCreditWindow(t *testing.T) {
	a, b := newPairHosts(t)
	const size, window = 1000, 3500 // three frames fit, the fourth waits for credit
	f := &feed{size: size, calls: make(chan int, 16)}
	var sent, maxUnacked atomic.Uint64
	src := &Source{
		MinWindowBytes: window,
		Subscribe:      func(context.Context, peer.ID, Subscribe) (Feed, error) { return f, nil },
		OnSent: func(_, unacked uint64) {
			sent.Add(1)
			if unacked > maxUnacked.Load() {
				maxUnacked.Store(unacked)
			}
		},
	}
	src.Handle(t.Context(), a)
	ctx := context.Background()
	sub, err := Open(ctx, b, a.ID(), Subscribe{WindowBytes: window, Request: pull.Request{Datasets: []string{"d"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Reset()
	for i := 1; i <= 3; i++ {
		if fr, err := sub.Next(); err != nil || len(fr) != size || fr[0] != byte(i) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(fr), err)
		}
	}
	for n := range f.calls {
		if n == 4 {
			break // the fourth frame is built: the source now waits in the window
		}
	}
	if got := sent.Load(); got != 3 {
		t.Fatalf("%d frames sent with a window of three, want 3", got)
	}
	if err := sub.Credit(2 * size); err != nil {
		t.Fatal(err)
	}
	for i := 4; i <= 5; i++ {
		if fr, err := sub.Next(); err != nil || fr[0] != byte(i) {
			t.Fatalf("frame %d after credit: %v", i, err)
		}
	}
	if m := maxUnacked.Load(); m > window {
		t.Fatalf("unacknowledged reached %d bytes, window %d", m, window)
	}
	if c := f.credited.Load(); c != 2*size {
		t.Fatalf("the feed was told of %d bytes credited, want %d", c, 2*size)
	}
}

func TestResets(t *testing.T) {
	a, b := newPairHosts(t)
	resets := make(chan error, 4)
	src := &Source{
		MinWindowBytes: 4096,
		Subscribe: func(context.Context, peer.ID, Subscribe) (Feed, error) {
			return &feed{size: 100, calls: make(chan int, 100)}, nil
		},
		OnReset: func(_ peer.ID, err error) { resets <- err },
	}
	src.Handle(t.Context(), a)
	ctx := context.Background()
	t.Run("small window", func(t *testing.T) {
		sub, err := Open(ctx, b, a.ID(), Subscribe{WindowBytes: 100})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Next(); err == nil {
			t.Fatal("a subscription below the minimum window got a batch")
		}
		if err := <-resets; !errors.Is(err, ErrWindow) {
			t.Fatalf("reset by %v, want ErrWindow", err)
		}
	})
	t.Run("credit beyond what was sent", func(t *testing.T) {
		sub, err := Open(ctx, b, a.ID(), Subscribe{WindowBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Reset()
		if err := sub.Credit(1 << 20); err != nil {
			t.Fatal(err)
		}
		if err := <-resets; !errors.Is(err, ErrWindow) {
			t.Fatalf("reset by %v, want ErrWindow", err)
		}
	})
	t.Run("oversized credit frame", func(t *testing.T) {
		s, err := b.NewStream(ctx, a.ID(), ID)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		transport.WriteFrame(s, EncodeSubscribe(Subscribe{WindowBytes: 4096}))
		transport.WriteFrame(s, make([]byte, 64))
		if err := <-resets; !errors.Is(err, transport.ErrFrameTooLarge) {
			t.Fatalf("reset by %v, want ErrFrameTooLarge", err)
		}
	})
	t.Run("oversized batch frame", func(t *testing.T) {
		b.SetStreamHandler(ID, func(s network.Stream) {
			transport.WriteFrame(s, make([]byte, MaxBatchBytes+1))
			s.Close()
		})
		defer b.RemoveStreamHandler(ID)
		sub, err := Open(ctx, a, b.ID(), Subscribe{WindowBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Next(); !errors.Is(err, transport.ErrFrameTooLarge) {
			t.Fatalf("Next: %v, want ErrFrameTooLarge", err)
		}
	})
}

func TestFrames(t *testing.T) {
	s := Subscribe{WindowBytes: 7, Request: pull.Request{Datasets: []string{"d"}, Have: []pull.Have{{Dataset: "d", Origin: "o", Seq: 3}}}}
	got, err := DecodeSubscribe(EncodeSubscribe(s))
	if err != nil || got.WindowBytes != 7 || got.Request.Have[0].Seq != 3 {
		t.Fatalf("subscribe round trip: %+v %v", got, err)
	}
	if _, err := DecodeSubscribe([]byte("{")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad subscribe: %v", err)
	}
	if n, err := DecodeCredit(EncodeCredit(300)); err != nil || n != 300 {
		t.Fatalf("credit round trip: %d %v", n, err)
	}
	for _, b := range [][]byte{nil, {0}, {0x80}, {1, 1}} {
		if _, err := DecodeCredit(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("credit %x: %v, want ErrMalformed", b, err)
		}
	}
}
