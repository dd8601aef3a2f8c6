// Package push is the streaming replication protocol (/lienthong/push/1.0.0):
// a reader opens one long-lived stream to a source and subscribes with its
// version vector and a credit window in bytes; the source sends batches (pull
// answers, package transport/pull) as soon as its durable heads pass what it
// sent, as long as the bytes the reader has not yet acknowledged stay within
// the window; the reader gives credit back as it applies them. Any error
// resets the stream; the reader then repairs by pull and subscribes again.
// docs/protocol.md specifies it, frame by frame.
//
// push imports transport and transport/pull, nothing else of lienthong.
package push

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
)

// ID is the protocol ID.
const ID = "/lienthong/push/1.0.0"

// Limits of the protocol.
const (
	// MaxSubscribeBytes caps the subscribe frame (JSON).
	MaxSubscribeBytes = pull.MaxRequestBytes + 64
	// MaxBatchBytes caps a batch frame on the wire (a zstd pull answer).
	MaxBatchBytes = pull.MaxResponseBytes
	// MaxCreditBytes caps a credit frame (one uvarint).
	MaxCreditBytes = binary.MaxVarintLen64
	// DefaultWindowBytes is the window a reader subscribes with.
	DefaultWindowBytes = 2 * MaxBatchBytes
	// IdleTimeout bounds the time a source waits for credit, and a reader
	// for a batch or a keep-alive: a silent peer's stream is reset.
	IdleTimeout = 90 * time.Second
	// KeepAlive is how often a source with nothing to send sends an empty
	// batch, so that the reader tells a quiet source from a dead one.
	KeepAlive = 30 * time.Second
)

// Errors of the protocol; each resets the stream.
var (
	// ErrMalformed: a frame does not decode.
	ErrMalformed = errors.New("push: malformed frame")
	// ErrWindow: a window too small for one batch, or credit returned
	// beyond what was sent.
	ErrWindow = errors.New("push: window violated")
)

// Subscribe is the first frame a reader sends.
type Subscribe struct {
	// WindowBytes is the reader's credit: the most bytes of batch frames
	// it takes unacknowledged. At least MaxBatchBytes (the source's
	// MinWindowBytes).
	WindowBytes uint64 `json:"window_bytes"`
	// Request is the reader's version vector and the datasets it wants,
	// as in a pull.
	Request pull.Request `json:"request"`
}

// EncodeSubscribe writes s in the protocol's form (JSON).
func EncodeSubscribe(s Subscribe) []byte {
	b, _ := json.Marshal(s)
	return b
}

// DecodeSubscribe reverses EncodeSubscribe.
func DecodeSubscribe(b []byte) (Subscribe, error) {
	var s Subscribe
	if err := json.Unmarshal(b, &s); err != nil {
		return Subscribe{}, fmt.Errorf("%w: subscribe: %v", ErrMalformed, err)
	}
	return s, nil
}

// EncodeCredit writes a credit frame: n bytes of batches applied.
func EncodeCredit(n uint64) []byte { return binary.AppendUvarint(nil, n) }

// DecodeCredit reverses EncodeCredit.
func DecodeCredit(b []byte) (uint64, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != len(b) || n == 0 {
		return 0, fmt.Errorf("%w: credit", ErrMalformed)
	}
	return n, nil
}

// Window is a sender's flow control: the bytes sent and not yet
// acknowledged never exceed its size. Safe for concurrent use.
type Window struct {
	mu      sync.Mutex
	size    uint64
	unacked uint64
	wake    chan struct{} // closed and replaced at each release
}

// NewWindow returns a window of size bytes.
func NewWindow(size uint64) *Window { return &Window{size: size, wake: make(chan struct{})} }

// Acquire blocks until n more bytes fit in the window, or ctx ends. n
// larger than the window fails with ErrWindow.
func (w *Window) Acquire(ctx context.Context, n uint64) error {
	if n > w.size {
		return fmt.Errorf("%w: %d-byte batch, %d-byte window", ErrWindow, n, w.size)
	}
	for {
		w.mu.Lock()
		if w.unacked+n <= w.size {
			w.unacked += n
			w.mu.Unlock()
			return nil
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives n bytes back. More than is unacknowledged fails with
// ErrWindow (a reader crediting what it never got).
func (w *Window) Release(n uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n > w.unacked {
		return fmt.Errorf("%w: credit of %d bytes, %d unacknowledged", ErrWindow, n, w.unacked)
	}
	w.unacked -= n
	close(w.wake)
	w.wake = make(chan struct{})
	return nil
}

// Unacked returns the bytes sent and not yet acknowledged.
func (w *Window) Unacked() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unacked
}

// Feed is a source's side of one subscription.
type Feed interface {
	// Next blocks until there is something to send beyond what was sent
	// (durable ops the reader lacks), or until the keep-alive wait ends
	// (then it returns nil: an empty batch is sent), or ctx ends. It
	// returns a batch frame (an encoded pull answer, at most MaxBatchBytes).
	Next(ctx context.Context, keepAlive time.Duration) ([]byte, error)
	// Credited tells the feed that the reader credited n more bytes: it
	// applied the batches they cover, in the order Next returned them.
	// It is called from another goroutine than Next's.
	Credited(n uint64)
}

// Source serves subscriptions. Its fields are read-only once Handle runs.
type Source struct {
	// Subscribe starts a feed for reader from; an error refuses it (the
	// stream is reset). The feed ends with ctx.
	Subscribe func(ctx context.Context, from peer.ID, s Subscribe) (Feed, error)
	// MinWindowBytes is the smallest window a reader may subscribe with;
	// zero means MaxBatchBytes.
	MinWindowBytes uint64
	// KeepAlive overrides KeepAlive when positive (tests).
	KeepAlive time.Duration
	// OnSent, if set, is called after each batch frame is written, with
	// its size and the bytes then unacknowledged.
	OnSent func(n, unacked uint64)
	// OnReset, if set, is called with the error that reset a stream.
	OnReset func(from peer.ID, err error)
}

// Handle sets h's stream handler for ID to serve src. Each stream runs in
// its own goroutine until the reader goes, an error resets it, or ctx ends
// (then it is reset too). Remove it with h.RemoveStreamHandler(ID).
func (src *Source) Handle(ctx context.Context, h host.Host) {
	h.SetStreamHandler(ID, func(s network.Stream) {
		if err := src.serve(ctx, s); err != nil {
			_ = s.Reset()
			if src.OnReset != nil {
				src.OnReset(s.Conn().RemotePeer(), err)
			}
			return
		}
		_ = s.Close()
	})
}

func (src *Source) serve(ctx context.Context, s network.Stream) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	from := s.Conn().RemotePeer()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(s)
	b, err := transport.ReadFrame(rd, MaxSubscribeBytes)
	if err != nil {
		return err
	}
	sub, err := DecodeSubscribe(b)
	if err != nil {
		return err
	}
	minWindow := src.MinWindowBytes
	if minWindow == 0 {
		minWindow = MaxBatchBytes
	}
	if sub.WindowBytes < minWindow {
		return fmt.Errorf("%w: window of %d bytes, at least %d", ErrWindow, sub.WindowBytes, minWindow)
	}
	feed, err := src.Subscribe(ctx, from, sub)
	if err != nil {
		return err
	}
	_ = s.SetReadDeadline(time.Time{})
	w := NewWindow(sub.WindowBytes)
	credits := make(chan error, 1)
	go func() { // the reader's credit frames; its end of the stream ends the feed
		defer cancel()
		for {
			b, err := transport.ReadFrame(rd, MaxCreditBytes)
			if err == nil {
				var n uint64
				if n, err = DecodeCredit(b); err == nil {
					// The feed hears of the credit before the window
					// lets more out; this goroutine alone releases, so a
					// credit within what is unacknowledged releases.
					if n <= w.Unacked() {
						feed.Credited(n)
					}
					err = w.Release(n)
				}
			}
			if err != nil {
				credits <- err
				return
			}
		}
	}()
	keepAlive := src.KeepAlive
	if keepAlive <= 0 {
		keepAlive = KeepAlive
	}
	for {
		batch, err := feed.Next(ctx, keepAlive)
		if err == nil && batch == nil {
			batch = pull.EncodeResponse(pull.Response{})
		}
		if err == nil && len(batch) > MaxBatchBytes {
			err = fmt.Errorf("push: %d-byte batch over the %d-byte cap", len(batch), MaxBatchBytes)
		}
		if err == nil {
			actx, acancel := context.WithTimeout(ctx, IdleTimeout)
			err = w.Acquire(actx, uint64(len(batch)))
			acancel()
		}
		if err == nil {
			_ = s.SetWriteDeadline(time.Now().Add(IdleTimeout))
			err = transport.WriteFrame(s, batch)
		}
		if err != nil {
			select {
			case cerr := <-credits:
				return cerr // the reader's fault (or its going) comes first
			default:
				return err
			}
		}
		if src.OnSent != nil {
			src.OnSent(uint64(len(batch)), w.Unacked())
		}
	}
}

// Subscription is a reader's end of one stream. Next is called by one
// goroutine; Credit and Reset may be called from any.
type Subscription struct {
	s  network.Stream
	rd *bufio.Reader
	mu sync.Mutex // serialises credit frames
}

// Open opens a stream to source p and subscribes with sub. ctx bounds the
// opening only.
func Open(ctx context.Context, h host.Host, p peer.ID, sub Subscribe) (*Subscription, error) {
	s, err := h.NewStream(ctx, p, ID)
	if err != nil {
		return nil, fmt.Errorf("push: open a stream to %s: %w", p, err)
	}
	_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := transport.WriteFrame(s, EncodeSubscribe(sub)); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("push: subscribe to %s: %w", p, err)
	}
	return &Subscription{s: s, rd: bufio.NewReader(s)}, nil
}

// Next blocks until the next batch frame (an encoded pull answer, owned by
// the caller), at most IdleTimeout. On an error the stream is reset.
func (sub *Subscription) Next() ([]byte, error) {
	_ = sub.s.SetReadDeadline(time.Now().Add(IdleTimeout))
	b, err := transport.ReadFrame(sub.rd, MaxBatchBytes)
	if err != nil {
		sub.Reset()
		return nil, err
	}
	return b, nil
}

// Credit tells the source that n bytes of batches were applied.
func (sub *Subscription) Credit(n uint64) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	_ = sub.s.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := transport.WriteFrame(sub.s, EncodeCredit(n)); err != nil {
		sub.Reset()
		return err
	}
	return nil
}

// Reset ends the stream at once.
func (sub *Subscription) Reset() { _ = sub.s.Reset() }
