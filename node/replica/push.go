package replica

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
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

// Feed is the source's side of one subscription: what it sent the
// subscriber, and what to send next. One goroutine uses it: the
// subscription's (Next) or the simulator's (Poll).
type Feed struct {
	r    *Replicator
	from peer.ID
	name string                    // the subscriber's member name
	sent map[storage.Stream]uint64 // the subscriber's heads plus what was sent

	mu struct {
		sync.Mutex
		inflight []sentBatch // batches sent and not yet credited, in order
		credited uint64      // credit beyond the batches popped from inflight
	}
	close sync.Once
}

// sentBatch is a batch the subscriber has not credited yet: its size and
// the subscriber's heads once it is applied.
type sentBatch struct {
	bytes uint64
	heads map[storage.Stream]uint64
}

// Subscribe opens the source's side of member from's subscription s: its
// version vector is what the member holds. The member counts as a
// subscriber (it gets what changes by push, not by notification) until
// the feed is closed.
func (r *Replicator) Subscribe(from peer.ID, s push.Subscribe) (*Feed, error) {
	m := memberOf(r.cfg.Meta.View(), from)
	if m == nil {
		return nil, fmt.Errorf("push from %s: not a member", from)
	}
	f := &Feed{r: r, from: from, name: m.Name, sent: haves(s.Request.Have)}
	r.mu.Lock()
	r.mu.acked[m.Name] = ack{seqs: acknowledged(s.Request), at: r.cfg.Now()}
	r.mu.subscribers[m.Name]++
	r.mu.Unlock()
	r.stats.subscriptions.Inc()
	return f, nil
}

// Close ends the subscription at the source: the member no longer counts
// as a subscriber (unless it holds another). Closing twice is harmless.
// The push source closes a feed when its stream ends; the simulator, when
// it closes the subscription, in its event order.
func (f *Feed) Close() {
	f.close.Do(func() {
		r := f.r
		r.stats.subscriptions.Dec()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.mu.subscribers[f.name]--; r.mu.subscribers[f.name] <= 0 {
			delete(r.mu.subscribers, f.name)
		}
	})
}

// Poll returns the next batch: the durable ops beyond what was sent of
// every dataset the subscriber may read in the metadata of now (so that a
// grant made after the subscription opened streams too), read and checked
// as for a pull answer; nil when the subscriber has all there is. It never
// waits.
func (f *Feed) Poll() ([]byte, error) {
	r := f.r
	v := r.cfg.Meta.View()
	m := memberOf(v, f.from)
	if m == nil {
		return nil, fmt.Errorf("push to %s: no longer a member", f.from)
	}
	var readable []string
	for _, ds := range v.Datasets() {
		if ds.CanRead(m.Name) {
			readable = append(readable, ds.Name)
		}
	}
	resp, err := r.answer(v, m, readable, f.sent)
	if err != nil || len(resp.Batches) == 0 && len(resp.Truncated) == 0 {
		return nil, err
	}
	for _, b := range resp.Batches {
		f.sent[storage.Stream{Dataset: b.Head.Dataset, Origin: b.Head.Origin}] = b.Head.Seq
	}
	return f.record(pull.EncodeResponse(resp)), nil
}

// record counts batch as sent and remembers it until it is credited.
func (f *Feed) record(batch []byte) []byte {
	f.r.countBytes(push.ID, "sent", len(batch))
	f.mu.Lock()
	f.mu.inflight = append(f.mu.inflight, sentBatch{bytes: uint64(len(batch)), heads: maps.Clone(f.sent)})
	f.mu.Unlock()
	return batch
}

// Credited implements push.Feed: the batches the credit covers are
// applied (and synced) at the subscriber, which acknowledges their heads,
// as a pull request does: its lag and the truncation of history follow.
func (f *Feed) Credited(n uint64) {
	f.mu.Lock()
	f.mu.credited += n
	var heads map[storage.Stream]uint64
	for len(f.mu.inflight) > 0 && f.mu.credited >= f.mu.inflight[0].bytes {
		f.mu.credited -= f.mu.inflight[0].bytes
		heads = f.mu.inflight[0].heads
		f.mu.inflight = f.mu.inflight[1:]
	}
	f.mu.Unlock()
	if heads == nil {
		return
	}
	r := f.r
	r.mu.Lock()
	r.mu.acked[f.name] = ack{seqs: heads, at: r.cfg.Now()}
	r.mu.Unlock()
}

// Next implements push.Feed: Poll, as soon as the durable position moves;
// an empty batch after keepAlive with nothing to send.
func (f *Feed) Next(ctx context.Context, keepAlive time.Duration) ([]byte, error) {
	wait, cancel := context.WithTimeout(ctx, keepAlive)
	defer cancel()
	for {
		since := f.r.cfg.Store.Durable() // before Poll: a change during it wakes the wait
		if b, err := f.Poll(); b != nil || err != nil {
			return b, err
		}
		if err := f.r.cfg.Store.WaitDurable(wait, since); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return f.record(pull.EncodeResponse(pull.Response{})), nil // keep-alive
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
		Subscribe: func(ctx context.Context, from peer.ID, s push.Subscribe) (push.Feed, error) {
			f, err := r.Subscribe(from, s)
			if err != nil {
				return nil, err
			}
			context.AfterFunc(ctx, f.Close) // the feed ends with ctx
			return f, nil
		},
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
