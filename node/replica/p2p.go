package replica

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
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
}

var _ Runtime = p2pRuntime{}

// Send implements Runtime: a pull or a snapshot chunk waits at most a
// minute for its answer, a notification 2 s.
func (rt p2pRuntime) Send(id uint64, p peer.ID, proto string, req []byte, maxResp int) {
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
func (rt p2pRuntime) Dial(p peer.ID) {
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		ctx, cancel := context.WithTimeout(rt.ctx, 2*time.Second)
		defer cancel()
		rt.h.Connect(ctx, peer.AddrInfo{ID: p})
	}()
}

// metaChanger is a meta.Store that tells of its changes.
type metaChanger interface {
	// Changed returns a channel closed when the next log entry is applied.
	Changed() <-chan struct{}
}

// Run serves r's protocols on h and replicates until ctx ends, with the
// Driver over libp2p: it ticks every Interval (anti-entropy, dialling,
// purges, truncation), tells the driver of notifications from peers, of
// changes that became durable here, of metadata changes and of answers. One loop goroutine
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
	answers := make(chan p2pAnswer, 64)
	d := NewDriver(ctx, r, p2pRuntime{ctx: ctx, h: h, wg: &wg, answers: answers})
	changed := make(chan []string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchChanges(ctx, changed)
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
		case p := <-wake:
			d.Notified(ctx, p)
		case ds := <-changed:
			d.Changed(ctx, ds)
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
