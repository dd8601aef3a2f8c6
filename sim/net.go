package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/transport/pull"
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

// link is a node's view of the simulated network: replica.Network.
type link struct {
	s *Sim
	n *node
}

var _ replica.Network = link{}

// Request delivers req to the peer's replicator at once: the simulator
// schedules the whole exchange at the instant it models its arrival. It
// fails if the peer is unreachable or the request or its answer is lost; an
// answer may be delivered again later (duplicated, out of order).
func (l link) Request(ctx context.Context, p peer.ID, proto string, req []byte, maxResp int) ([]byte, error) {
	s, a := l.s, l.n
	b := s.byID[p]
	if b == nil || !s.reachable(a, b) {
		return nil, fmt.Errorf("%w: %s", errUnreachable, p)
	}
	if s.lost(a, b) || s.lost(b, a) {
		s.stats.Lost++
		return nil, errLost
	}
	a.sent += int64(len(req))
	b.recv += int64(len(req))
	resp, err := b.rep.Handle(ctx, a.id, proto, req, nil)
	if err != nil {
		return nil, fmt.Errorf("sim: %s reset the stream: %w", b.spec.Name, err)
	}
	if len(resp) > maxResp {
		return nil, fmt.Errorf("sim: answer of %d bytes over the cap %d", len(resp), maxResp)
	}
	b.sent += int64(len(resp))
	a.recv += int64(len(resp))
	if q := s.net.quality[[2]int{b.idx, a.idx}]; proto == pull.ID && q.dup > 0 && s.rng.Float64() < q.dup {
		s.stats.Duplicated++
		s.after(2*s.latency(b, a)+s.sc.Network.SyncEvery.D()/4*time.Duration(s.rng.IntN(4)), "redeliver", a, b, func() string {
			if !a.up {
				return "down"
			}
			n, _, err := a.rep.ApplyResponse(context.Background(), b.id, resp)
			return fmt.Sprintf("applied=%d err=%v", n, err != nil)
		})
	}
	return resp, nil
}

// Connected implements replica.Network.
func (l link) Connected(p peer.ID) bool {
	b := l.s.byID[p]
	return b != nil && l.s.reachable(l.n, b)
}
