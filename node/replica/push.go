package replica

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/push"
)

// errIncomplete ends a subscription whose batch could not be applied in
// full (a gap, a rejected batch, ops that wait for metadata, a stream the
// source no longer holds far enough back): a pull repairs it.
var errIncomplete = errors.New("replica: pushed batch not applied in full")

// feed is the source's side of one subscription: what it sent the
// subscriber, and what to send next. Its Next runs on the subscription's
// goroutine only.
type feed struct {
	r        *Replicator
	from     peer.ID
	datasets []string
	sent     map[storage.Stream]uint64 // the subscriber's heads plus what was sent
}

// subscribe is push.Source's Subscribe: a member's subscription, with its
// version vector. It is counted as a subscriber until ctx ends.
func (r *Replicator) subscribe(ctx context.Context, from peer.ID, s push.Subscribe) (push.Feed, error) {
	m := memberOf(r.cfg.Meta.View(), from)
	if m == nil {
		return nil, fmt.Errorf("push from %s: not a member", from)
	}
	f := &feed{r: r, from: from, datasets: s.Request.Datasets, sent: map[storage.Stream]uint64{}}
	for _, h := range s.Request.Have {
		f.sent[storage.Stream{Dataset: h.Dataset, Origin: h.Origin}] = h.Seq
	}
	r.mu.Lock()
	r.mu.acked[m.Name] = ack{seqs: maps.Clone(f.sent), at: r.cfg.Now()}
	r.mu.subscribers[m.Name]++
	r.mu.Unlock()
	r.stats.subscriptions.Inc()
	context.AfterFunc(ctx, func() {
		r.stats.subscriptions.Dec()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.mu.subscribers[m.Name]--; r.mu.subscribers[m.Name] <= 0 {
			delete(r.mu.subscribers, m.Name)
		}
	})
	return f, nil
}

// Next implements push.Feed: the durable ops beyond what was sent, read
// and checked as for a pull answer (the read list against the metadata of
// now), as soon as the durable position moves.
func (f *feed) Next(ctx context.Context, keepAlive time.Duration) ([]byte, error) {
	r := f.r
	wait, cancel := context.WithTimeout(ctx, keepAlive)
	defer cancel()
	for {
		since := r.cfg.Store.Durable()
		v := r.cfg.Meta.View()
		m := memberOf(v, f.from)
		if m == nil {
			return nil, fmt.Errorf("push to %s: no longer a member", f.from)
		}
		resp, err := r.answer(v, m, f.datasets, f.sent)
		if err != nil {
			return nil, err
		}
		if len(resp.Batches) > 0 || len(resp.Truncated) > 0 {
			for _, b := range resp.Batches {
				f.sent[storage.Stream{Dataset: b.Head.Dataset, Origin: b.Head.Origin}] = b.Head.Seq
			}
			out := pull.EncodeResponse(resp)
			r.countBytes(push.ID, "sent", len(out))
			return out, nil
		}
		if err := r.cfg.Store.WaitDurable(wait, since); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, nil // keep-alive
		}
	}
}

// subscribers returns the members holding a subscription to this node.
func (r *Replicator) subscribers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.mu.subscribers))
}

// pushSource is the push protocol's source side over r.
func (r *Replicator) pushSource() *push.Source {
	return &push.Source{
		Subscribe: r.subscribe,
		OnReset: func(from peer.ID, err error) {
			r.stats.pushResets.WithLabelValues("source").Inc()
			r.cfg.Logger.Debug("push: subscription reset", "peer", from, "err", err)
		},
	}
}

// subscribeFrame returns the subscribe frame of this node: its version
// vector and the default window.
func (r *Replicator) subscribeFrame() (push.Subscribe, error) {
	q, err := r.versionVector()
	return push.Subscribe{WindowBytes: push.DefaultWindowBytes, Request: q}, err
}

// applyPushed verifies and applies a pushed batch from p, with the checks
// of a pull answer. It fails with errIncomplete unless every stream of it
// is now held up to its batch's head (the stream is then reset and a pull
// repairs).
func (r *Replicator) applyPushed(ctx context.Context, p peer.ID, batch []byte) (int, error) {
	r.countBytes(push.ID, "received", len(batch))
	res, decoded, err := pull.DecodeResponse(batch)
	if err != nil {
		return 0, r.reject(p, storage.Stream{}, "malformed", err)
	}
	r.stats.bytes.WithLabelValues("push", "received_decoded").Add(float64(decoded))
	n, truncated, err := r.applyDecoded(ctx, p, res)
	if err != nil {
		return n, err
	}
	if len(truncated) > 0 {
		return n, fmt.Errorf("%w: %d streams held only above a floor", errIncomplete, len(truncated))
	}
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return n, err
	}
	for _, b := range res.Batches {
		if st := (storage.Stream{Dataset: b.Head.Dataset, Origin: b.Head.Origin}); heads[st].Seq < b.Head.Seq {
			return n, fmt.Errorf("%w: %s/%s at %d, batch to %d", errIncomplete, st.Dataset, st.Origin, heads[st].Seq, b.Head.Seq)
		}
	}
	return n, nil
}
