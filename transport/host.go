package transport

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by NewHost.
var (
	// ErrNoKey is returned when HostConfig.Key is nil.
	ErrNoKey = errors.New("transport: no host key: pass the node's ed25519 private key in HostConfig.Key")
	// ErrNoGater is returned when HostConfig.Gater is nil.
	ErrNoGater = errors.New("transport: no connection gater: pass NewGater(logger) in HostConfig.Gater")
	// ErrBadListenAddr is returned (wrapped, naming the address) when a listen
	// address is not a multiaddr.
	ErrBadListenAddr = errors.New("transport: bad listen address")
	// ErrListen is matched by NewHost's *ListenError, when the host cannot
	// listen on one of its listen addresses (e.g. another process holds the
	// port).
	ErrListen = errors.New("transport: cannot listen")
)

// ListenError is NewHost's error when it cannot listen on Addr, one of
// HostConfig.ListenAddrs as given. It matches ErrListen and Err.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("%v on %s: %v", ErrListen, e.Addr, e.Err) }

// Unwrap returns ErrListen and the cause.
func (e *ListenError) Unwrap() []error { return []error{ErrListen, e.Err} }

// Connection manager watermarks: a federation has tens of members, so these
// are far above what a node needs and only trim runaway connection counts.
const (
	connMgrLow  = 256
	connMgrHigh = 512
)

// HostConfig configures NewHost.
type HostConfig struct {
	// Key is the node's identity; its peer ID is the member's peer ID in the
	// federation metadata. Ed25519 is expected. Required.
	Key crypto.PrivKey

	// ListenAddrs are multiaddrs to listen on, e.g. "/ip4/0.0.0.0/tcp/4001"
	// and "/ip4/0.0.0.0/udp/4001/quic-v1". Port 0 picks a free port (see
	// host.Addrs() for the result). Empty means listen on nothing: the host
	// can still dial out (useful for tools, not for a node).
	ListenAddrs []string

	// AdvertiseAddrs, if set, are the multiaddrs the host announces
	// (identify, host.Addrs()) instead of what it listens on: a public or
	// NATed address, or one interface of several, e.g.
	// "/dns4/hcm.example.gov.vn/tcp/7171". Empty: the listen addresses.
	AdvertiseAddrs []string

	// Gater decides which peers may connect, inbound and outbound. Required:
	// a host without a gater would accept anyone.
	Gater *Gater

	// Logger receives host-level events. Nil means slog.Default().
	Logger *slog.Logger

	// Registerer receives libp2p's own Prometheus metrics (libp2p_*). Nil
	// disables them, so several hosts can live in one process (tests).
	Registerer prometheus.Registerer
}

// NewHost builds and starts the node's libp2p host: identity cfg.Key, TCP
// and QUIC (quic-v1) transports, Noise and TLS 1.3 security (both offered,
// Noise preferred), yamux, the connection gater cfg.Gater, a resource
// manager with libp2p's default limits scaled to this machine's memory, and
// no relay, NAT port mapping, hole punching or mDNS: members reach each other
// directly at addresses they learn from the federation and from gossip. It
// fails with a *ListenError unless it listens on every one of
// cfg.ListenAddrs.
//
// The caller owns the returned host and must Close it. Safe to call
// concurrently.
func NewHost(cfg HostConfig) (host.Host, error) {
	if cfg.Key == nil {
		return nil, ErrNoKey
	}
	if cfg.Gater == nil {
		return nil, ErrNoGater
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	addrs := make([]ma.Multiaddr, 0, len(cfg.ListenAddrs))
	for _, s := range cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v (expected e.g. /ip4/0.0.0.0/tcp/4001 or /ip4/0.0.0.0/udp/4001/quic-v1)", ErrBadListenAddr, s, err)
		}
		addrs = append(addrs, a)
	}

	var advertise []ma.Multiaddr
	for _, s := range cfg.AdvertiseAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: advertise address %q: %v (expected e.g. /ip4/203.0.113.5/tcp/7171 or /dns4/hcm.example.gov.vn/tcp/7171)", ErrBadListenAddr, s, err)
		}
		advertise = append(advertise, a)
	}

	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("transport: resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(connMgrLow, connMgrHigh)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("transport: connection manager: %w", err)
	}

	opts := []libp2p.Option{
		libp2p.Identity(cfg.Key),
		// Listen below, one address at a time: libp2p fails only when every
		// address fails, and a node must not run on part of its config.
		libp2p.NoListenAddrs,
		// Without SO_REUSEPORT a second process on the same TCP port fails
		// to bind instead of sharing the port's connections with the first.
		// Dial from the listen IP (sourceDialer).
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport(), tcp.WithDialerForAddr(sourceDialer(addrs))),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ConnectionGater(cfg.Gater),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
	}
	if len(advertise) > 0 {
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return advertise }))
	}
	if cfg.Registerer != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Registerer))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	// Not enabled on purpose (all off by default in go-libp2p v0.51):
	// NATPortMap, EnableNATService, EnableHolePunching, EnableRelayService,
	// EnableAutoRelay, EnableAutoNATv2. mDNS is a separate service we never start.
	h, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes what it built on failure, except the managers we
		// passed in.
		cm.Close()
		rm.Close()
		return nil, fmt.Errorf("transport: start libp2p host (listen %v): %w", cfg.ListenAddrs, err)
	}
	for i, a := range addrs {
		if err := h.Network().Listen(a); err != nil {
			h.Close()
			return nil, &ListenError{Addr: cfg.ListenAddrs[i], Err: err}
		}
	}
	logger.Info("libp2p host started", "peer", h.ID().String(), "addrs", fmt.Sprint(h.Addrs()))
	return h, nil
}
