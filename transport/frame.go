package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ErrFrameTooLarge is returned (wrapped with the announced size and the cap)
// by ReadFrame when a frame's length prefix exceeds the caller's cap.
var ErrFrameTooLarge = errors.New("transport: frame too large")

// ErrBadFrameLength is returned (wrapped) by ReadFrame when the length prefix
// is not a valid uvarint.
var ErrBadFrameLength = errors.New("transport: bad frame length prefix")

const (
	// DefaultRequestTimeout bounds a Request whose context has no deadline.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultHandleTimeout bounds one request in Handle when its timeout
	// argument is zero or negative.
	DefaultHandleTimeout = 10 * time.Second

	// coalesceBytes: payloads up to this size are written with their prefix
	// in one Write (one yamux/QUIC frame); larger ones in two Writes, to
	// avoid copying them.
	coalesceBytes = 4 << 10
)

// WriteFrame writes b to w as one frame: its length as a uvarint, then b.
// It does not buffer or flush beyond that; safe for concurrent use only if w
// is.
func WriteFrame(w io.Writer, b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	if len(b) <= coalesceBytes {
		buf := make([]byte, 0, n+len(b))
		buf = append(append(buf, hdr[:n]...), b...)
		_, err := w.Write(buf)
		return err
	}
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one frame written by WriteFrame and returns its payload,
// which the caller owns. A length over maxBytes fails with ErrFrameTooLarge
// before anything of the payload is read or allocated (maxBytes 0 allows only
// empty frames). It returns io.EOF, unwrapped, if r ends before the first
// byte of the frame (a clean end of stream), io.ErrUnexpectedEOF if it ends
// inside the frame, ErrBadFrameLength for a malformed prefix, or r's error.
func ReadFrame(r *bufio.Reader, maxBytes int) ([]byte, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if maxBytes < 0 || n > uint64(maxBytes) {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrFrameTooLarge, n, maxBytes)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("transport: read %d-byte frame: %w", n, err)
	}
	return buf, nil
}

// Request sends req as one frame to peer p on protocol proto and returns the
// one-frame response (at most maxResp bytes), which the caller owns. It opens
// a new stream (dialing p if needed), applies ctx's deadline, or
// DefaultRequestTimeout if ctx has none, to the whole exchange, half-closes
// after writing, and closes the stream after reading. Cancelling ctx aborts
// it. On any failure the stream is Reset and the error names the peer and
// the protocol; it wraps ctx.Err() when ctx ended, and ErrFrameTooLarge when
// the response exceeds maxResp. A handler that fails (see Handle) surfaces as
// a stream reset error. Safe for concurrent use; blocks until done.
func Request(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req []byte, maxResp int) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	fail := func(what string, err error) error {
		cerr := ctx.Err()
		var ne net.Error
		if cerr == nil && errors.As(err, &ne) && ne.Timeout() {
			// The stream deadline is ctx's deadline; it may fire a moment
			// before ctx notices.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil && !errors.Is(err, cerr) {
			return fmt.Errorf("transport: %s to %s: %s: %w (%w)", proto, p, what, cerr, err)
		}
		return fmt.Errorf("transport: %s to %s: %s: %w", proto, p, what, err)
	}

	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, fail("open stream", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	deadline, _ := ctx.Deadline()
	if err := s.SetDeadline(deadline); err != nil {
		_ = s.Reset()
		return nil, fail("set deadline", err)
	}
	if err := WriteFrame(s, req); err != nil {
		_ = s.Reset()
		return nil, fail("write request", err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, fail("close write", err)
	}
	resp, err := ReadFrame(bufio.NewReader(s), maxResp)
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("stream closed without a response: %w", io.ErrUnexpectedEOF)
		}
		return nil, fail("read response", err)
	}
	_ = s.Close()
	return resp, nil
}

// HandlerFunc serves one request from peer from on a Handle protocol. It
// returns the response bytes; a non-nil error makes Handle Reset the stream
// without writing anything, so application errors (not found, refused, …)
// must be encoded in the response bytes and only transport-level failures
// returned as errors. ctx ends at the handler's timeout. req is owned by fn.
type HandlerFunc func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// Handle sets h's stream handler for proto: each stream carries one request
// frame (at most maxReq bytes; larger ones are refused by a Reset without
// reading them) and gets one response frame from fn. timeout bounds the whole
// exchange, reading, fn and writing (zero or negative means
// DefaultHandleTimeout). If reading fails, fn returns an error, or writing
// fails, the stream is Reset and the requester's Request fails. fn is called
// concurrently, one goroutine per stream. Replaces any previous handler for
// proto; remove it with h.RemoveStreamHandler(proto).
func Handle(h host.Host, proto protocol.ID, maxReq int, timeout time.Duration, fn HandlerFunc) {
	if timeout <= 0 {
		timeout = DefaultHandleTimeout
	}
	h.SetStreamHandler(proto, func(s network.Stream) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		deadline, _ := ctx.Deadline()
		if err := s.SetDeadline(deadline); err != nil {
			_ = s.Reset()
			return
		}
		req, err := ReadFrame(bufio.NewReader(s), maxReq)
		if err != nil {
			_ = s.Reset()
			return
		}
		resp, err := fn(ctx, s.Conn().RemotePeer(), req)
		if err != nil {
			_ = s.Reset()
			return
		}
		if err := WriteFrame(s, resp); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
}

// readUvarint is binary.ReadUvarint with a sentinel for malformed prefixes:
// io.EOF if r ends before the first byte, io.ErrUnexpectedEOF inside the
// prefix, ErrBadFrameLength if it is longer than 10 bytes or overflows.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, fmt.Errorf("%w: overflows 64 bits", ErrBadFrameLength)
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: longer than %d bytes", ErrBadFrameLength, binary.MaxVarintLen64)
}
