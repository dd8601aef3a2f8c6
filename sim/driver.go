package sim

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport/pull"
)

// The simulator is the replicator's second driver (the first is
// replica.Run over libp2p): it decides when each node pulls, notifies and
// truncates, in simulated time.

// tick is a node's anti-entropy round, every SyncEvery: catch up with the
// metadata if the leader is reachable, pull from every source, truncate.
func (s *Sim) tick(n *node, d time.Duration) {
	s.after(d, "tick", n, nil, func() string {
		s.tick(n, s.sc.Network.SyncEvery.D())
		if !n.up {
			return "down"
		}
		s.deliver(n)
		sources := n.rep.Sources()
		for _, p := range sources {
			s.schedulePull(n, s.byID[p], 0)
		}
		dropped, err := n.rep.Truncate(s.ctx)
		return fmt.Sprintf("sources=%d truncated=%d err=%v", len(sources), dropped, err != nil)
	})
}

// schedulePull makes n pull from p after the round trip (and extra), unless
// a pull from p is already scheduled.
func (s *Sim) schedulePull(n, p *node, extra time.Duration) {
	if n.pulls[p.idx] {
		return
	}
	n.pulls[p.idx] = true
	pulls := n.pulls
	s.after(s.latency(n, p)+s.latency(p, n)+extra, "pull", n, p, func() string {
		delete(pulls, p.idx)
		if !n.up {
			return "down"
		}
		s.stats.Pulls++
		applied, err := n.rep.Pull(s.ctx, p.id)
		s.stats.Applied += applied
		if err != nil {
			s.stats.PullErrors++
		}
		if applied > 0 {
			s.notifySoon(n) // relay: tell the readers of what it now has
		}
		return fmt.Sprintf("applied=%d err=%v", applied, err != nil)
	})
}

// notifySoon tells n's readers about its new ops after the notification
// delay, gathering what changes meanwhile.
func (s *Sim) notifySoon(n *node) {
	if n.notifying {
		return
	}
	n.notifying = true
	s.after(s.sc.Network.NotifyDelay.D(), "notify", n, nil, func() string {
		if !n.up || !n.notifying {
			return "down"
		}
		n.notifying = false
		var datasets []string
		datasets, n.cursor = n.rep.ChangedDatasets(n.cursor)
		targets := n.rep.NotifyTargets(datasets)
		msg := n.rep.NotifyMessage(datasets)
		for _, p := range targets {
			t := s.byID[p]
			if s.lost(n, t) {
				continue
			}
			n.sent += int64(len(msg))
			// The notification crosses to t, which pulls if it lacks
			// something it names.
			s.after(s.latency(n, t), "notified", t, n, func() string {
				if !t.up {
					return "down"
				}
				t.recv += int64(len(msg))
				pulls := false
				t.rep.Handle(s.ctx, n.id, pull.NotifyID, msg, func(peer.ID) {
					pulls = true
					s.schedulePull(t, n, 0)
				})
				return fmt.Sprintf("pull=%v", pulls)
			})
		}
		return fmt.Sprintf("datasets=%d targets=%d", len(datasets), len(targets))
	})
}
