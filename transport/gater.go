package transport

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var _ connmgr.ConnectionGater = (*Gater)(nil)

// Reasons a connection is refused, as logged under the "reason" key.
const (
	reasonNotAdmitted = "not_admitted"
	reasonBlocked     = "blocked"
)

// Gater is the host's connection gater: a peer may connect, inbound or
// outbound, only if it is admitted in the federation metadata or is one of
// the bootstrap seeds, and is not blocked.
//
// Outbound dials to a peer that is not allowed are refused before any packet
// is sent (InterceptPeerDial). Inbound connections cannot be judged before
// the security handshake, so they are refused right after it, when the peer
// ID is authenticated (InterceptSecured, which also re-checks outbound
// connections). Every refusal is counted (Refused, and the metric
// lienthong_p2p_connections_refused_total by direction and reason). An
// inbound peer that is not admitted is logged at warn level, at most once a
// minute per peer (someone holding a key the federation does not know is
// knocking); the rest at debug level, with the keys peer, direction and
// reason.
//
// Changing the sets does not touch existing connections; call Enforce for
// that. All methods are safe for concurrent use and never block on the
// network, except Enforce.
type Gater struct {
	logger   *slog.Logger
	refused  atomic.Uint64
	counters *prometheus.CounterVec

	warned struct {
		sync.Mutex
		at map[peer.ID]time.Time // when an unknown inbound peer was last logged at warn
	}

	mu struct {
		sync.RWMutex
		admitted  map[peer.ID]struct{}
		bootstrap map[peer.ID]struct{}
		blocked   map[peer.ID]struct{}
	}
}

// NewGater returns a gater that allows nobody until SetAdmitted or
// SetBootstrap is called. A nil logger means slog.Default().
func NewGater(logger *slog.Logger) *Gater {
	if logger == nil {
		logger = slog.Default()
	}
	g := &Gater{logger: logger, counters: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lienthong_p2p_connections_refused_total",
		Help: "Connections and dials refused by the connection gater, by direction (inbound, outbound) and reason (not_admitted, blocked).",
	}, []string{"direction", "reason"})}
	g.warned.at = map[peer.ID]time.Time{}
	g.mu.admitted = map[peer.ID]struct{}{}
	g.mu.bootstrap = map[peer.ID]struct{}{}
	g.mu.blocked = map[peer.ID]struct{}{}
	return g
}

func toSet(ids []peer.ID) map[peer.ID]struct{} {
	m := make(map[peer.ID]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// SetAdmitted replaces the set of admitted peers with ids (the members in the
// federation metadata; the node's own ID may be included, it is harmless).
// The gater keeps no reference to ids. Existing connections to peers that are
// no longer allowed stay open until Enforce is called.
func (g *Gater) SetAdmitted(ids []peer.ID) {
	s := toSet(ids)
	g.mu.Lock()
	g.mu.admitted = s
	g.mu.Unlock()
}

// SetBootstrap replaces the set of bootstrap peers: the configured seeds, which
// are allowed while the node has not yet received the federation metadata.
// Once the node is synced, the caller clears it with SetBootstrap(nil) (seeds
// are members, so they stay allowed through SetAdmitted). The gater keeps no
// reference to ids.
func (g *Gater) SetBootstrap(ids []peer.ID) {
	s := toSet(ids)
	g.mu.Lock()
	g.mu.bootstrap = s
	g.mu.Unlock()
}

// Block refuses id even if it is admitted, until Unblock. It is a test hook
// for partitions (block a peer on both sides, then Enforce); operators remove
// members through the metadata instead.
func (g *Gater) Block(id peer.ID) {
	g.mu.Lock()
	g.mu.blocked[id] = struct{}{}
	g.mu.Unlock()
}

// Unblock undoes Block.
func (g *Gater) Unblock(id peer.ID) {
	g.mu.Lock()
	delete(g.mu.blocked, id)
	g.mu.Unlock()
}

// Allowed reports whether id may be connected to now: admitted or bootstrap,
// and not blocked.
func (g *Gater) Allowed(id peer.ID) bool {
	_, ok := g.check(id)
	return ok
}

// Refused returns how many connections and dials the gater has refused since
// it was created.
func (g *Gater) Refused() uint64 { return g.refused.Load() }

// Collector returns the gater's metrics, for the node's registry.
func (g *Gater) Collector() prometheus.Collector { return g.counters }

// check returns the refusal reason, or ok.
func (g *Gater) check(id peer.ID) (reason string, ok bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, b := g.mu.blocked[id]; b {
		return reasonBlocked, false
	}
	if _, a := g.mu.admitted[id]; a {
		return "", true
	}
	if _, s := g.mu.bootstrap[id]; s {
		return "", true
	}
	return reasonNotAdmitted, false
}

func (g *Gater) gate(id peer.ID, dir network.Direction, stage string) bool {
	reason, ok := g.check(id)
	if !ok {
		g.refused.Add(1)
		direction := "outbound"
		if dir == network.DirInbound {
			direction = "inbound"
		}
		g.counters.WithLabelValues(direction, reason).Inc()
		level := slog.LevelDebug
		if dir == network.DirInbound && reason == reasonNotAdmitted && g.warnOnce(id) {
			level = slog.LevelWarn
		}
		g.logger.Log(context.Background(), level, "connection refused",
			"peer", id.String(), "direction", direction, "reason", reason, "stage", stage)
	}
	return ok
}

// warnOnce reports whether a refusal of id is to be logged at warn: once a
// minute per peer, with a bounded memory of peers.
func (g *Gater) warnOnce(id peer.ID) bool {
	g.warned.Lock()
	defer g.warned.Unlock()
	now := time.Now()
	if t, ok := g.warned.at[id]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if len(g.warned.at) >= 1024 {
		clear(g.warned.at)
	}
	g.warned.at[id] = now
	return true
}

// Enforce closes every connection of h to a peer that is no longer allowed
// (removed from the metadata, or blocked) and returns the peers it
// disconnected. Call it after SetAdmitted, SetBootstrap or Block. It blocks
// until the connections are closed.
func (g *Gater) Enforce(h host.Host) []peer.ID {
	var closed []peer.ID
	for _, p := range h.Network().Peers() {
		reason, ok := g.check(p)
		if ok {
			continue
		}
		if err := h.Network().ClosePeer(p); err != nil {
			g.logger.Warn("closing connection to refused peer", "peer", p.String(), "reason", reason, "err", err)
		}
		g.logger.Info("disconnected peer", "peer", p.String(), "reason", reason)
		closed = append(closed, p)
	}
	return closed
}

// InterceptPeerDial implements connmgr.ConnectionGater: outbound dials to a
// peer that is not allowed are refused before dialing.
func (g *Gater) InterceptPeerDial(p peer.ID) bool {
	return g.gate(p, network.DirOutbound, "peer_dial")
}

// InterceptAddrDial implements connmgr.ConnectionGater: addresses are not
// filtered (the peer was already checked by InterceptPeerDial).
func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept implements connmgr.ConnectionGater: the peer is unknown
// before the handshake, so every inbound connection proceeds to it.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater: the authenticated peer
// ID is checked in both directions.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.gate(p, dir, "secured")
}

// InterceptUpgraded implements connmgr.ConnectionGater: allowed (already
// checked by InterceptSecured).
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
