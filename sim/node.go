package sim

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/storage"
)

// node is one simulated node: the real store (on an in-memory file system
// that a crash cuts back to what was synced), data engine and replicator,
// with metadata from the simulated control plane.
type node struct {
	s    *Sim
	idx  int
	spec nodeSpec
	key  crypto.PrivKey
	id   peer.ID
	fs   *vfs.MemFS
	meta *nodeMeta

	// Set while up.
	up  bool
	st  *storage.Store
	eng *data.Engine
	rep *replica.Replicator
	drv *replica.Driver

	skew time.Duration // clock offset
	slow float64       // latency factor, 1 when normal

	cursor     uint64          // change feed position up to which the driver was told
	notifying  bool            // telling the driver of changes is scheduled
	syncing    bool            // a sync of what it applied is scheduled
	crashArmed bool            // crash before the next sync of what it applies (Event.Unsynced)
	subs       map[uint64]*sub // the subscriptions it holds as a reader, by id
	feeds      []*sub          // the subscriptions it serves as a source
	waking     bool            // polling its feeds is scheduled
	sent       int64           // bytes on the wire
	recv       int64
	crashes    int
}

// clock returns the node's time: the simulated time with its skew.
func (n *node) clock() time.Time { return n.s.wall().Add(n.skew) }

func (n *node) millis() int64 { return n.clock().UnixMilli() }

// start opens the node's store and starts its engine and replicator.
func (n *node) start() error {
	// DeferSyncs: replicated ops applied (storage.Store.Apply) reach the
	// disk at the simulated disk's sync (syncSoon), not when a goroutine
	// gets to it, so what a crash takes back is the seed's.
	st, err := storage.Open(storage.Options{Dir: "db", FS: n.fs, CacheBytes: 2 << 20, MemTableBytes: 2 << 20, DeferSyncs: true})
	if err != nil {
		return fmt.Errorf("sim: start %s: %w", n.spec.Name, err)
	}
	eng, err := data.New(data.Config{Self: n.spec.Name, Store: st, Meta: n.meta, NowMillis: n.millis})
	if err != nil {
		st.Close()
		return fmt.Errorf("sim: start %s: %w", n.spec.Name, err)
	}
	n.st, n.eng, n.up = st, eng, true
	n.rep = replica.New(replica.Config{Self: n.spec.Name, Key: n.key, Network: link{n.s, n}, Store: st, Meta: n.meta,
		Engine: eng, Now: n.clock, Push: !n.s.sc.Network.PullOnly, Interval: n.s.sc.Network.SyncEvery.D(), Retention: n.s.sc.Network.Retention.D(),
		Logger: n.s.logger.With("node", n.spec.Name)})
	n.cursor, n.subs = st.Durable(), map[uint64]*sub{}
	n.drv = replica.NewDriver(n.s.ctx, n.rep, link{n.s, n})
	return nil
}

// crash stops the node as a power cut would: its file system keeps only
// what was synced.
func (n *node) crash() {
	if !n.up {
		return
	}
	for _, ss := range sortedSubs(n) {
		n.s.closeSub(ss) // its sources stop; what is in flight to it is lost
	}
	for _, ss := range n.feeds {
		ss.stop() // its readers find out at their next tick
	}
	n.feeds = nil
	if n.st.Applied() > n.st.Durable() {
		n.s.stats.CrashesUnsynced++ // replicated ops applied and not yet synced are lost
	}
	clone := n.fs.CrashClone(vfs.CrashCloneCfg{})
	n.st.Close()
	n.fs = clone
	n.up, n.st, n.eng, n.rep, n.drv = false, nil, nil, nil, nil
	n.notifying, n.syncing = false, false
	n.crashes++
}

// nodeMeta is a node's copy of the federation's metadata, advanced by the
// simulated control plane as the log reaches the node: meta.Store.
type nodeMeta struct {
	n       *node
	view    atomic.Pointer[meta.View]
	applied int // log entries applied
}

var _ meta.Store = (*nodeMeta)(nil)

// View implements meta.Store.
func (m *nodeMeta) View() *meta.View { return m.view.Load() }

// Propose implements meta.Store through the simulated control plane.
func (m *nodeMeta) Propose(_ context.Context, c meta.Command) (*meta.View, error) {
	return m.n.s.propose(m.n, c)
}
