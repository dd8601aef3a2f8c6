package sim

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/transport/push"
)

// Streaming replication on the simulated network (package transport/push
// over libp2p in production): the reader's driver subscribes through its
// link (replica.Streamer), the source's replicator serves the subscription
// through a replica.Feed, as push.Source does, and batches and credit
// travel as events, each direction in order as on one stream. A source
// polls its feeds as soon as its store has new durable changes; a reader
// finds a subscription whose source it no longer reaches, or that
// restarted, at its next tick, as a stream's keep-alive would.

// sub is one subscription: reader a's driver holds it as id, source b's
// replicator serves it through feed.
type sub struct {
	id   uint64
	a, b *node
	inc  int                 // a's incarnation (crashes) that opened it
	rep  *replica.Replicator // b's replicator that serves it
	feed *replica.Feed
	stop func() // ends the subscription at the source (replica.Feed.Close)

	window, unacked uint64
	held            []byte        // a batch polled that waits for credit
	down, up        time.Duration // when the last batch, the last credit, arrive
	closed          bool
}

var _ replica.Streamer = link{}

// Subscribe implements replica.Streamer.
func (l link) Subscribe(id uint64, p peer.ID, s push.Subscribe) {
	sim, a := l.s, l.n
	b := sim.byID[p]
	ss := &sub{id: id, a: a, b: b, inc: a.crashes, window: s.WindowBytes}
	a.subs[id] = ss
	if b == nil || !sim.reachable(a, b) {
		sim.endSub(ss, 0)
		return
	}
	frame := push.EncodeSubscribe(s)
	a.sent += int64(len(frame))
	ss.up = sim.now + sim.latency(a, b)
	sim.after(ss.up-sim.now, "subscribe", b, a, func() string {
		if ss.closed {
			return "closed"
		}
		if !sim.reachable(a, b) {
			sim.endSub(ss, sim.latency(b, a))
			return "unreachable"
		}
		b.recv += int64(len(frame))
		s, err := push.DecodeSubscribe(frame)
		if err == nil && s.WindowBytes < push.MaxBatchBytes {
			err = fmt.Errorf("window of %d bytes", s.WindowBytes)
		}
		var f *replica.Feed
		if err == nil {
			f, err = b.rep.Subscribe(a.id, s)
		}
		if err != nil {
			sim.endSub(ss, sim.latency(b, a))
			return "refused"
		}
		ss.rep, ss.feed, ss.stop = b.rep, f, f.Close
		b.feeds = append(b.feeds, ss)
		sim.pump(ss)
		return "subscribed"
	})
}

// Credit implements replica.Streamer.
func (l link) Credit(id uint64, n uint64) {
	sim, ss := l.s, l.n.subs[id]
	if ss == nil || ss.closed {
		return
	}
	ss.up = max(ss.up, sim.now+sim.latency(ss.a, ss.b))
	sim.after(ss.up-sim.now, "credit", ss.b, ss.a, func() string {
		if ss.closed || ss.b.rep != ss.rep {
			return "closed"
		}
		if n > ss.unacked {
			sim.endSub(ss, sim.latency(ss.b, ss.a)) // push.ErrWindow
			return "window violated"
		}
		ss.unacked -= n
		ss.feed.Credited(n)
		return fmt.Sprintf("batches=%d", sim.pump(ss))
	})
}

// Unsubscribe implements replica.Streamer: the source stops at once (the
// stream is reset).
func (l link) Unsubscribe(id uint64) {
	if ss := l.n.subs[id]; ss != nil {
		l.s.closeSub(ss)
	}
}

// pump sends the batches of ss that its window allows, and returns how
// many.
func (s *Sim) pump(ss *sub) int {
	sent := 0
	for !ss.closed && ss.b.rep == ss.rep && s.reachable(ss.a, ss.b) {
		if ss.held == nil {
			b, err := ss.feed.Poll()
			if err != nil {
				s.endSub(ss, s.latency(ss.b, ss.a))
				return sent
			}
			if b == nil {
				return sent
			}
			ss.held = b
		}
		n := uint64(len(ss.held))
		if ss.unacked+n > ss.window {
			return sent // until credit comes
		}
		batch := ss.held
		ss.held, ss.unacked = nil, ss.unacked+n
		ss.b.sent += int64(n)
		ss.down = max(ss.down, s.now+s.latency(ss.b, ss.a))
		sent++
		s.after(ss.down-s.now, "push", ss.a, ss.b, func() string { return s.pushed(ss, batch) })
	}
	return sent
}

// pushed delivers batch of ss to its reader.
func (s *Sim) pushed(ss *sub, batch []byte) string {
	a := ss.a
	if ss.closed || !a.up || a.crashes != ss.inc {
		return "closed"
	}
	if !s.reachable(a, ss.b) {
		s.endSub(ss, 0)
		return "unreachable"
	}
	a.recv += int64(len(batch))
	applied := a.drv.Applied()
	a.drv.Pushed(s.ctx, ss.id, batch)
	applied = a.drv.Applied() - applied
	s.stats.Applied += applied
	s.stats.Pushed++
	if applied > 0 {
		s.syncSoon(a) // then, as a relay, tell the readers of what it now has
	}
	return fmt.Sprintf("applied=%d", applied)
}

// wakeFeeds polls the feeds n serves, now that its store has new durable
// changes.
func (s *Sim) wakeFeeds(n *node) {
	if n.waking || len(n.feeds) == 0 {
		return
	}
	n.waking = true
	s.after(0, "feeds", n, nil, func() string {
		n.waking = false
		sent := 0
		for _, ss := range n.feeds {
			sent += s.pump(ss)
		}
		return fmt.Sprintf("batches=%d", sent)
	})
}

// checkSubs ends reader n's subscriptions whose source it no longer
// reaches, or that restarted: what a stream's keep-alive finds out.
func (s *Sim) checkSubs(n *node) {
	for _, ss := range sortedSubs(n) {
		if ss.rep != nil && (!s.reachable(n, ss.b) || ss.b.rep != ss.rep) {
			s.endSub(ss, 0)
		}
	}
}

// endSub ends ss at the source now and tells its reader after d.
func (s *Sim) endSub(ss *sub, d time.Duration) {
	if ss.closed {
		return
	}
	s.closeSub(ss)
	s.after(d, "unsubscribed", ss.a, ss.b, func() string {
		if !ss.a.up || ss.a.crashes != ss.inc {
			return "gone"
		}
		ss.a.drv.Unsubscribed(s.ctx, ss.id)
		return ""
	})
}

// closeSub forgets ss at both ends.
func (s *Sim) closeSub(ss *sub) {
	ss.closed = true
	if ss.stop != nil {
		ss.stop()
	}
	delete(ss.a.subs, ss.id)
	for i, f := range ss.b.feeds {
		if f == ss {
			ss.b.feeds = append(ss.b.feeds[:i], ss.b.feeds[i+1:]...)
			break
		}
	}
}

// sortedSubs returns reader n's subscriptions in the order they were
// opened, for a deterministic run.
func sortedSubs(n *node) []*sub {
	return slices.SortedFunc(maps.Values(n.subs), func(x, y *sub) int { return cmp.Compare(x.id, y.id) })
}
