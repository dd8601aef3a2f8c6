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
)

// P2P is the Network over a libp2p host.
type P2P struct{ Host host.Host }

var _ Network = P2P{}

// Request implements Network with one libp2p stream per request.
func (n P2P) Request(ctx context.Context, p peer.ID, proto string, req []byte, maxResp int) ([]byte, error) {
	return transport.Request(ctx, n.Host, p, protocol.ID(proto), req, maxResp)
}

// Connected implements Network.
func (n P2P) Connected(p peer.ID) bool { return n.Host.Network().Connectedness(p) == network.Connected }

// Run serves r's protocols on h and replicates until ctx ends: it pulls from
// a peer as soon as the peer notifies, tells readers when this node has
// applied new ops, pulls from every source on the anti-entropy timer
// (dialling members that are not connected) and then purges what this node
// may no longer read, and truncates history once a minute. Each peer has at most one pull in flight, so a slow or silent peer
// holds up only its own.
func (r *Replicator) Run(ctx context.Context, h host.Host) {
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
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	inflight := map[peer.ID]bool{}
	pull := func(p peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		if inflight[p] {
			return
		}
		inflight[p] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := r.Pull(pctx, p); err != nil {
				r.cfg.Logger.Debug("sync: pull", "peer", p, "err", err)
			}
			mu.Lock()
			delete(inflight, p)
			mu.Unlock()
		}()
	}
	changed := make(chan []string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchChanges(ctx, changed)
	}()
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	lastTruncate := r.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-wake:
			pull(p)
		case ds := <-changed:
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Notify(ctx, ds)
			}()
		case <-tick.C:
			for _, p := range r.Sources() {
				pull(p)
			}
			for _, p := range r.Members() {
				if !r.cfg.Network.Connected(p) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
						defer cancel()
						h.Connect(cctx, peer.AddrInfo{ID: p})
					}()
				}
			}
			if _, err := r.Purge(ctx); err != nil {
				r.cfg.Logger.Warn("purge datasets no longer readable", "err", err)
			}
			if r.cfg.Now().Sub(lastTruncate) >= min(time.Minute, max(r.cfg.Retention/4, r.cfg.Interval)) {
				lastTruncate = r.cfg.Now()
				if _, err := r.Truncate(ctx); err != nil {
					r.cfg.Logger.Warn("truncate op history", "err", err)
				}
			}
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
