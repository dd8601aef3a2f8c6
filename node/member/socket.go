package member

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrAddrInUse is wrapped by Listen's error when another socket holds the
// gossip port (on UDP or TCP).
var ErrAddrInUse = errors.New("member: gossip address already in use")

// Socket is a gossip address bound before Start: a node binds it when it
// starts, so that it fails at once when the port is taken and knows the port
// it got for port 0, even if gossip itself starts much later (once the node
// is admitted and has the federation's key). Until Start takes it, packets
// and connections wait in the kernel's queues.
type Socket struct {
	nt        *memberlist.NetTransport
	tr        *sourceTransport // nt, dialing TCP from ip
	ip        string
	port      int
	closeOnce sync.Once
}

// Listen binds bindAddr (IP:port, e.g. "0.0.0.0:7946") for gossip, UDP and
// TCP on the same port; port 0 picks a free one (see Addr). The caller owns
// the Socket: it must pass it to Start (Config.Socket) or Close it.
func Listen(bindAddr string, logger *slog.Logger) (*Socket, error) {
	ap, err := parseHostPort(bindAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip address %q: %v; use IP:port such as 0.0.0.0:7946", ErrConfig, bindAddr, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{ap.Addr().String()}, BindPort: int(ap.Port()), Logger: newStdLogger(logger)}
	// With port 0 the kernel picks the TCP port and the UDP one must then
	// be free too: retry a few times, as memberlist does.
	tries := 1
	if ap.Port() == 0 {
		tries = 10
	}
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			return &Socket{nt: nt, tr: newSourceTransport(nt, ap.Addr()), ip: ap.Addr().String(), port: nt.GetAutoBindPort()}, nil
		}
	}
	// memberlist formats the cause with %v: match the errno's text.
	if strings.Contains(err.Error(), syscall.EADDRINUSE.Error()) {
		return nil, fmt.Errorf("%w: %s: %v", ErrAddrInUse, bindAddr, err)
	}
	return nil, fmt.Errorf("member: bind gossip on %s: %w", bindAddr, err)
}

// Addr returns the bound IP:port, with the port the kernel picked for port 0.
func (s *Socket) Addr() string { return net.JoinHostPort(s.ip, strconv.Itoa(s.port)) }

// Close releases a Socket that Start never took. Safe to call more than once.
func (s *Socket) Close() error {
	s.closeOnce.Do(func() {
		// The transport's listeners block handing what arrived to a reader
		// that never came: drain them while it shuts down.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case c := <-s.nt.StreamCh():
					c.Close()
				case <-s.nt.PacketCh():
				case <-stop:
					return
				}
			}
		}()
		s.nt.Shutdown()
		close(stop)
		<-done
	})
	return nil
}

// sourceTransport is memberlist's NetTransport, except that when bound to
// one IP (not 0.0.0.0 or ::) it dials its TCP streams (push/pull, fallback
// probes) from that IP, as its UDP packets already leave from the bound
// socket: peers and firewall rules see the node at the address it is known
// by. Without it the kernel picks the source, on loopback always 127.0.0.1.
type sourceTransport struct {
	*memberlist.NetTransport
	local *net.TCPAddr // nil: the kernel picks
}

func newSourceTransport(nt *memberlist.NetTransport, ip netip.Addr) *sourceTransport {
	t := &sourceTransport{NetTransport: nt}
	if !ip.IsUnspecified() {
		t.local = &net.TCPAddr{IP: ip.AsSlice()}
	}
	return t
}

// DialTimeout implements memberlist.Transport.
func (t *sourceTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *sourceTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.local != nil {
		d.LocalAddr = t.local
	}
	return d.Dial("tcp", a.Addr)
}
