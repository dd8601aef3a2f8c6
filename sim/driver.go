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

// maxDiskSync bounds how long the simulated disk takes to sync what a node
// applied without a sync (replicated ops): from 1 ms to 100 ms, as fsync
// takes here while Pebble flushes a memtable (docs/architecture.md). A
// crash within it takes them back.
const maxDiskSync = 100 * time.Millisecond

// syncSoon syncs, after the disk's sync time, what n applied without a sync
// (as the store's sync stage does as soon as the disk is free), then tells
// its driver (pushed batches are credited once synced) and its readers.
func (s *Sim) syncSoon(n *node) {
	if n.crashArmed {
		n.crashArmed = false
		s.after(0, "crash", n, nil, func() string {
			if !n.up {
				return "down"
			}
			n.crash()
			s.stats.Crashes++
			return "crash before the sync"
		})
	}
	if n.syncing {
		return
	}
	n.syncing = true
	took := time.Millisecond * time.Duration(1+s.rng.Int64N(int64(maxDiskSync/time.Millisecond)))
	s.after(took, "sync", n, nil, func() string {
		if !n.up || !n.syncing {
			return "down"
		}
		n.syncing = false
		if err := n.st.Sync(s.ctx); err != nil {
			return "sync: " + err.Error()
		}
		n.drv.Synced()
		s.notifySoon(n)
		return fmt.Sprintf("durable=%d", n.st.Durable())
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
