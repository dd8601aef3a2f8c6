package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/push"
)

// P2P is the Network over a libp2p host.
type P2P struct{ Host host.Host }

var _ Requester = P2P{}

// Request implements Requester with one libp2p stream per request.
func (n P2P) Request(ctx context.Context, p peer.ID, proto string, req []byte, maxResp int) ([]byte, error) {
	return transport.Request(ctx, n.Host, p, protocol.ID(proto), req, maxResp)
}

// Connected implements Network.
func (n P2P) Connected(p peer.ID) bool { return n.Host.Network().Connectedness(p) == network.Connected }

// p2pAnswer is the outcome of a request sent by p2pRuntime.
type p2pAnswer struct {
	id   uint64
	resp []byte
	err  error
}

// p2pRuntime is the Driver's Runtime over libp2p: one goroutine per
// request (a libp2p stream), whose answer goes back to Run's loop.
type p2pRuntime struct {
	ctx     context.Context
	h       host.Host
	wg      *sync.WaitGroup
	answers chan<- p2pAnswer
	pushed  chan<- p2pAnswer // a batch of a subscription; err set: its end
	subs    map[uint64]*p2pSub
}

// p2pSub is a subscription held by p2pRuntime: a goroutine reads its
// batches, another writes the credit the driver gives back.
type p2pSub struct {
	cancel context.CancelFunc
	credit atomic.Uint64 // bytes to give back
	wake   chan struct{} // 1-buffered: credit to give
}

var (
	_ Runtime  = (*p2pRuntime)(nil)
	_ Streamer = (*p2pRuntime)(nil)
)

// Send implements Runtime: a pull or a snapshot chunk waits at most a
// minute for its answer, a notification 2 s.
func (rt *p2pRuntime) Send(id uint64, p peer.ID, proto string, req []byte, maxResp int) {
	timeout := time.Minute
	if proto == pull.NotifyID {
		timeout = 2 * time.Second
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		ctx, cancel := context.WithTimeout(rt.ctx, timeout)
		defer cancel()
		resp, err := transport.Request(ctx, rt.h, p, protocol.ID(proto), req, maxResp)
		select {
		case rt.answers <- p2pAnswer{id, resp, err}:
		case <-rt.ctx.Done():
		}
	}()
}

// Dial implements Runtime.
func (rt *p2pRuntime) Dial(p peer.ID) {
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		ctx, cancel := context.WithTimeout(rt.ctx, 2*time.Second)
		defer cancel()
		rt.h.Connect(ctx, peer.AddrInfo{ID: p})
	}()
}

// Subscribe implements Streamer: a goroutine opens the stream and hands
// each batch to Run's loop; the subscription's end comes as an error.
func (rt *p2pRuntime) Subscribe(id uint64, p peer.ID, s push.Subscribe) {
	ctx, cancel := context.WithCancel(rt.ctx)
	sub := &p2pSub{cancel: cancel, wake: make(chan struct{}, 1)}
	rt.subs[id] = sub
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer cancel()
		err := rt.stream(ctx, sub, p, s, func(b []byte) bool {
			select {
			case rt.pushed <- p2pAnswer{id: id, resp: b}:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if err == nil {
			err = context.Canceled
		}
		select {
		case rt.pushed <- p2pAnswer{id: id, err: err}:
		case <-rt.ctx.Done():
		}
	}()
}

// stream runs one subscription until it fails or ctx ends.
func (rt *p2pRuntime) stream(ctx context.Context, sub *p2pSub, p peer.ID, s push.Subscribe, deliver func([]byte) bool) error {
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := push.Open(octx, rt.h, p, s)
	ocancel()
	if err != nil {
		return err
	}
	rt.wg.Add(1)
	go func() { // credit writer; it resets the stream when ctx ends
		defer rt.wg.Done()
		defer st.Reset()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
				// Credit adds before it wakes, so a wake may find its
				// credit sent by the one before: a zero-byte credit frame
				// is malformed and would reset the stream.
				if n := sub.credit.Swap(0); n > 0 {
					if err := st.Credit(n); err != nil {
						return
					}
				}
			}
		}
	}()
	for {
		b, err := st.Next()
		if err != nil {
			return err
		}
		if !deliver(b) {
			return ctx.Err()
		}
	}
}

// Credit implements Streamer.
func (rt *p2pRuntime) Credit(id uint64, n uint64) {
	if sub := rt.subs[id]; sub != nil {
		sub.credit.Add(n)
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// Unsubscribe implements Streamer.
func (rt *p2pRuntime) Unsubscribe(id uint64) {
	if sub := rt.subs[id]; sub != nil {
		sub.cancel()
		delete(rt.subs, id)
	}
}

// metaChanger is a meta.Store that tells of its changes.
type metaChanger interface {
	// Changed returns a channel closed when the next log entry is applied.
	Changed() <-chan struct{}
}

// Run serves r's protocols on h and replicates until ctx ends, with the
// Driver over libp2p: it ticks every Interval (anti-entropy, dialling,
// purges, truncation), tells the driver of notifications from peers, of
// changes that became durable here (and that the durable position moved),
// of metadata changes and of answers. One loop goroutine
// owns the driver; each request runs in a goroutine of its own, so a slow
// or silent peer holds up only its own pull.
func (r *Replicator) Run(ctx context.Context, h host.Host) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wake := make(chan peer.ID, 64)
	notified := func(p peer.ID) {
		select {
		case wake <- p:
		default:
		}
	}
	for proto, max := range Protocols() {
		transport.Handle(h, protocol.ID(proto), max, 60*time.Second, func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
			return r.Handle(ctx, from, proto, req, notified)
		})
		defer h.RemoveStreamHandler(protocol.ID(proto))
	}
	r.pushSource().Handle(ctx, h)
	defer h.RemoveStreamHandler(push.ID)
	answers, pushed := make(chan p2pAnswer, 64), make(chan p2pAnswer, 64)
	rt := &p2pRuntime{ctx: ctx, h: h, wg: &wg, answers: answers, pushed: pushed, subs: map[uint64]*p2pSub{}}
	d := NewDriver(ctx, r, rt)
	changed := make(chan []string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchChanges(ctx, changed)
	}()
	// The durable position, as soon as it moves: pushed batches are
	// credited once synced.
	synced := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for since := r.cfg.Store.Durable(); r.cfg.Store.WaitDurable(ctx, since) == nil; {
			since = r.cfg.Store.Durable()
			select {
			case synced <- struct{}{}:
			default:
			}
		}
	}()
	// Metadata that tells of its changes (control.Control does) is
	// stepped at once; any other at the next tick.
	var metaChanged <-chan struct{}
	mc, _ := r.cfg.Meta.(metaChanger)
	if mc != nil {
		metaChanged = mc.Changed()
	}
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-metaChanged:
			metaChanged = mc.Changed()
			d.MetaChanged(ctx)
		case a := <-answers:
			d.Answer(ctx, a.id, a.resp, a.err)
		case a := <-pushed:
			if a.err != nil {
				r.cfg.Logger.Debug("push: subscription ended", "err", a.err)
				rt.Unsubscribe(a.id)
				d.Unsubscribed(ctx, a.id)
			} else {
				d.Pushed(ctx, a.id, a.resp)
			}
		case p := <-wake:
			d.Notified(ctx, p)
		case ds := <-changed:
			d.Changed(ctx, ds)
		case <-synced:
			d.Synced()
		case <-tick.C:
			d.Tick(ctx)
		}
	}
}

// watchChanges sends the datasets of the changes that became durable, at
// most every 20 ms under load.
func (r *Replicator) watchChanges(ctx context.Context, out chan<- []string) {
	since := r.cfg.Store.Durable()
	for ctx.Err() == nil {
		if err := r.cfg.Store.WaitDurable(ctx, since); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		var ds []string
		ds, since = r.ChangedDatasets(since)
		if len(ds) == 0 {
			continue
		}
		select {
		case out <- ds:
		case <-ctx.Done():
			return
		}
	}
}
