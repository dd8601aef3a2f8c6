// Package raftlayer carries hashicorp/raft's network transport over libp2p
// streams on ProtocolID, so metadata travels on the same encrypted,
// authenticated, gated links as data.
//
// A raft server address (raft.ServerAddress) is the server's libp2p peer ID
// in its string form (e.g. "12D3KooW…"); network addresses are not part of
// the raft configuration. Dialing a peer needs its addresses in the host's
// peerstore (from the federation metadata or gossip) or an open connection.
//
// raftlayer imports only transport-level packages, nothing else of lienthong.
package raftlayer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID is the libp2p protocol of the raft stream layer.
const ProtocolID protocol.ID = "/lienthong/raft/1.0.0"

// DefaultDialTimeout is used by Dial when its timeout is zero or negative.
const DefaultDialTimeout = 10 * time.Second

// ErrBadAddress is returned (wrapped, naming the address) by Dial when the
// raft server address is not a libp2p peer ID.
var ErrBadAddress = errors.New("raftlayer: raft server address is not a libp2p peer ID")

var (
	_ raft.StreamLayer = (*Layer)(nil)
	_ net.Conn         = (*conn)(nil)
	_ net.Addr         = Addr{}
)

// Addr is the net.Addr of a raft stream endpoint: a libp2p peer ID.
type Addr struct {
	ID peer.ID
}

// Network returns "libp2p".
func (Addr) Network() string { return "libp2p" }

// String returns the peer ID, which is the raft server address.
func (a Addr) String() string { return a.ID.String() }

// Layer is a raft.StreamLayer over libp2p streams of one host: Accept returns
// inbound ProtocolID streams, Dial opens outbound ones. Both return a net.Conn
// whose addresses are peer IDs and whose deadlines are the stream's.
// Safe for concurrent use.
type Layer struct {
	h        host.Host
	incoming chan network.Stream
	done     chan struct{}

	mu struct {
		sync.Mutex
		closed bool
		conns  map[*conn]struct{} // open conns, reset by Close
	}
}

// New registers the ProtocolID stream handler on h and returns the layer.
// Close it (raft's NetworkTransport does, on Close or raft Shutdown) to
// remove the handler. At most one Layer per host.
func New(h host.Host) *Layer {
	l := &Layer{
		h:        h,
		incoming: make(chan network.Stream),
		done:     make(chan struct{}),
	}
	l.mu.conns = map[*conn]struct{}{}
	h.SetStreamHandler(ProtocolID, l.handle)
	return l
}

// handle hands an inbound stream to Accept, or resets it if the layer closes.
func (l *Layer) handle(s network.Stream) {
	select {
	case l.incoming <- s:
	case <-l.done:
		_ = s.Reset()
	}
}

// Accept waits for the next inbound raft stream. After Close it returns
// net.ErrClosed.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case s := <-l.incoming:
		c, err := l.track(s)
		if err != nil {
			_ = s.Reset()
			return nil, err
		}
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr returns the local peer ID as a net.Addr; raft uses its String() as
// this server's address.
func (l *Layer) Addr() net.Addr { return Addr{ID: l.h.ID()} }

// Close removes the stream handler, makes Accept return net.ErrClosed, and
// resets every stream this layer accepted or dialed that is still open (raft
// does not close its pooled or serving connections on shutdown). It does not
// close the host. Idempotent.
func (l *Layer) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	conns := l.mu.conns
	l.mu.conns = nil
	close(l.done)
	l.mu.Unlock()

	l.h.RemoveStreamHandler(ProtocolID)
	for c := range conns {
		_ = c.Stream.Reset()
	}
	return nil
}

// Dial opens a raft stream to the server whose address is a peer ID string,
// dialing the peer if not connected, within timeout (zero or negative means
// DefaultDialTimeout). libp2p's dial backoff is bypassed: raft has its own
// retry backoff, and libp2p's (up to 5 minutes) would delay reconnection
// after a partition heals.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadAddress, string(address), err)
	}
	select {
	case <-l.done:
		return nil, fmt.Errorf("raftlayer: dial %s: %w", id, net.ErrClosed)
	default:
	}
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = network.WithForceDirectDial(ctx, "raft")
	s, err := l.h.NewStream(ctx, id, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("raftlayer: dial %s: %w", id, err)
	}
	c, err := l.track(s)
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("raftlayer: dial %s: %w", id, err)
	}
	return c, nil
}

func (l *Layer) track(s network.Stream) (*conn, error) {
	c := &conn{Stream: s, layer: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil, net.ErrClosed
	}
	l.mu.conns[c] = struct{}{}
	return c, nil
}

func (l *Layer) untrack(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.conns != nil {
		delete(l.mu.conns, c)
	}
}

// conn adapts a network.Stream to net.Conn. Read, Write and the deadlines are
// the stream's.
type conn struct {
	network.Stream
	layer *Layer
}

// LocalAddr returns the local peer ID.
func (c *conn) LocalAddr() net.Addr { return Addr{ID: c.Stream.Conn().LocalPeer()} }

// RemoteAddr returns the remote peer ID.
func (c *conn) RemoteAddr() net.Addr { return Addr{ID: c.Stream.Conn().RemotePeer()} }

// Close closes the stream both ways and forgets it.
func (c *conn) Close() error {
	c.layer.untrack(c)
	return c.Stream.Close()
}

// NewTransport returns a raft.NetworkTransport over a new Layer on h.
// maxPool is how many idle streams are kept per peer for reuse (raft's
// default is 3; zero disables pooling). timeout is the dial timeout and the
// I/O deadline of each RPC (install-snapshot scales it by size); raft and
// Consul use 10 s; zero means no I/O deadline and DefaultDialTimeout for
// dials. A nil logger discards raft transport logs.
//
// Closing the transport (or shutting raft down) closes the layer.
func NewTransport(h host.Host, maxPool int, timeout time.Duration, logger hclog.Logger) *raft.NetworkTransport {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  New(h),
		MaxPool: maxPool,
		Timeout: timeout,
		Logger:  logger,
	})
}
