package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// Errors of the simulated network, as a requester sees them.
var (
	errUnreachable = errors.New("sim: peer unreachable")
	errLost        = errors.New("sim: message lost")
)

// fault is one active network fault.
type fault struct {
	id    int
	cut   map[[2]int]bool // directed links that drop everything
	link  map[[2]int]linkQuality
	flaps bool // a flap: cut only while on
	on    bool
}

// linkQuality degrades one directed link.
type linkQuality struct {
	loss, dup float64
	delay     time.Duration
}

// netState is the network as the active faults make it.
type netState struct {
	faults []*fault
	nextID int
	// cut and quality are derived from faults by rebuild.
	cut     map[[2]int]bool
	quality map[[2]int]linkQuality
}

func (ns *netState) add(f *fault) int {
	ns.nextID++
	f.id = ns.nextID
	ns.faults = append(ns.faults, f)
	ns.rebuild()
	return f.id
}

func (ns *netState) remove(id int) {
	for i, f := range ns.faults {
		if f.id == id {
			ns.faults = append(ns.faults[:i], ns.faults[i+1:]...)
			break
		}
	}
	ns.rebuild()
}

func (ns *netState) healAll() {
	ns.faults = nil
	ns.rebuild()
}

func (ns *netState) rebuild() {
	ns.cut = map[[2]int]bool{}
	ns.quality = map[[2]int]linkQuality{}
	for _, f := range ns.faults {
		if f.flaps && !f.on {
			continue
		}
		for l := range f.cut {
			ns.cut[l] = true
		}
		for l, q := range f.link {
			cur := ns.quality[l]
			cur.loss = max(cur.loss, q.loss)
			cur.dup = max(cur.dup, q.dup)
			cur.delay += q.delay
			ns.quality[l] = cur
		}
	}
}

// reachable reports whether a and b are up and the links both ways are not
// cut: what a libp2p connection needs.
func (s *Sim) reachable(a, b *node) bool {
	return a.up && b.up && (a == b || !s.net.cut[[2]int{a.idx, b.idx}] && !s.net.cut[[2]int{b.idx, a.idx}])
}

// latency is the one-way latency from a to b now, with jitter.
func (s *Sim) latency(a, b *node) time.Duration {
	base := s.sc.Network.Within.D()
	switch {
	case a.spec.Region == b.spec.Region:
	case a.spec.Region == "centre" || b.spec.Region == "centre":
		base = s.sc.Network.Adjacent.D()
	default:
		base = s.sc.Network.Far.D()
	}
	base += s.net.quality[[2]int{a.idx, b.idx}].delay
	base = time.Duration(float64(base) * a.slow * b.slow)
	j := s.sc.Network.Jitter
	return time.Duration(float64(base) * (1 - j + 2*j*s.rng.Float64()))
}

// lost draws whether a message from a to b is lost.
func (s *Sim) lost(a, b *node) bool {
	q := s.net.quality[[2]int{a.idx, b.idx}]
	return q.loss > 0 && s.rng.Float64() < q.loss
}

// link is a node's view of the simulated network: the replica.Network of
// its replicator and the replica.Runtime of its driver.
type link struct {
	s *Sim
	n *node
}

var (
	_ replica.Network = link{}
	_ replica.Runtime = link{}
)

// Send implements replica.Runtime: the request and its answer are separate
// events, so that other events (writes, answers of other peers, metadata)
// come between them. The request reaches the peer after the one-way
// latency and is handled then; its answer reaches the requester after the
// latency back. A lost request or answer, or an unreachable peer, is an
// error for the requester after the round trip; an answer may be
// delivered again later (duplicated, out of order).
func (l link) Send(id uint64, p peer.ID, proto string, req []byte, maxResp int) {
	s, a := l.s, l.n
	inc := a.crashes // Send may come from NewDriver, before a.drv is set
	b := s.byID[p]
	answer := func(d time.Duration, resp []byte, err error) {
		s.after(d, "answer", a, b, func() string {
			if !a.up || a.crashes != inc {
				return "gone" // the requester crashed meanwhile
			}
			drv := a.drv
			applied := drv.Applied()
			drv.Answer(s.ctx, id, resp, err)
			applied = drv.Applied() - applied
			s.stats.Applied += applied
			if err != nil && proto == pull.ID {
				s.stats.PullErrors++
			}
			if applied > 0 {
				s.syncSoon(a) // then, as a relay, tell the readers of what it now has
			}
			return fmt.Sprintf("%s applied=%d err=%v", protoName(proto), applied, err != nil)
		})
	}
	if proto == pull.ID {
		s.stats.Pulls++
	}
	if b == nil || !s.reachable(a, b) {
		answer(0, nil, fmt.Errorf("%w: %s", errUnreachable, p))
		return
	}
	there := s.latency(a, b)
	if s.lost(a, b) {
		s.stats.Lost++
		answer(there+s.latency(b, a), nil, errLost)
		return
	}
	a.sent += int64(len(req))
	s.after(there, "request", b, a, func() string {
		if !s.reachable(a, b) {
			answer(s.latency(b, a), nil, fmt.Errorf("%w: %s", errUnreachable, p))
			return "unreachable"
		}
		b.recv += int64(len(req))
		resp, err := b.rep.Handle(s.ctx, a.id, proto, req, func(from peer.ID) { b.drv.Notified(s.ctx, from) })
		switch {
		case err != nil:
			err = fmt.Errorf("sim: %s reset the stream: %w", b.spec.Name, err)
		case len(resp) > maxResp:
			resp, err = nil, fmt.Errorf("sim: answer of %d bytes over the cap %d", len(resp), maxResp)
		case s.lost(b, a):
			s.stats.Lost++
			resp, err = nil, errLost
		}
		back := s.latency(b, a)
		if err != nil {
			answer(back, nil, err)
			return fmt.Sprintf("%s err=%v", protoName(proto), err != nil)
		}
		b.sent += int64(len(resp))
		a.recv += int64(len(resp))
		answer(back, resp, nil)
		if q := s.net.quality[[2]int{b.idx, a.idx}]; proto == pull.ID && q.dup > 0 && s.rng.Float64() < q.dup {
			s.stats.Duplicated++
			s.after(2*back+s.sc.Network.SyncEvery.D()/4*time.Duration(s.rng.IntN(4)), "redeliver", a, b, func() string {
				if !a.up {
					return "down"
				}
				n, _, err := a.rep.ApplyResponse(s.ctx, b.id, resp)
				return fmt.Sprintf("applied=%d err=%v", n, err != nil)
			})
		}
		return protoName(proto)
	})
}

// Dial implements replica.Runtime: a simulated link is up whenever the
// peer is reachable.
func (l link) Dial(peer.ID) {}

// Connected implements replica.Network.
func (l link) Connected(p peer.ID) bool {
	b := l.s.byID[p]
	return b != nil && l.s.reachable(l.n, b)
}

func protoName(proto string) string {
	switch proto {
	case pull.ID:
		return "sync"
	case pull.NotifyID:
		return "notify"
	case snapshot.ID:
		return "snapshot"
	}
	return proto
}
