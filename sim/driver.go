package sim

import (
	"fmt"
	"time"
)

// The simulator runs the node's own driver (replica.Driver, which
// replica.Run runs over libp2p) over its network (net.go) and clock: it
// ticks each node every SyncEvery, tells it of the changes that became
// durable after NotifyDelay, and of metadata as it arrives (meta.go). When
// to pull, from whom, when to purge and truncate is the driver's, not the
// simulator's.

// tick is a node's anti-entropy interval, every SyncEvery: catch up with
// the metadata if the leader is reachable, then the driver's tick.
func (s *Sim) tick(n *node, d time.Duration) {
	s.after(d, "tick", n, nil, func() string {
		s.tick(n, s.sc.Network.SyncEvery.D())
		if !n.up {
			return "down"
		}
		s.deliver(n)
		s.checkSubs(n)
		n.drv.Tick(s.ctx)
		return fmt.Sprintf("awaiting=%d", n.drv.Pending())
	})
}

// notifySoon polls the feeds n serves and tells n's driver of the changes that became durable after the
// notification delay, gathering what changes meanwhile (as replica.Run's
// change watcher does), so that it notifies their readers.
func (s *Sim) notifySoon(n *node) {
	s.wakeFeeds(n)
	if n.notifying {
		return
	}
	n.notifying = true
	s.after(s.sc.Network.NotifyDelay.D(), "changes", n, nil, func() string {
		if !n.up || !n.notifying {
			return "down"
		}
		n.notifying = false
		var datasets []string
		datasets, n.cursor = n.rep.ChangedDatasets(n.cursor)
		if len(datasets) > 0 {
			n.drv.Changed(s.ctx, datasets)
		}
		return fmt.Sprintf("datasets=%d", len(datasets))
	})
}
