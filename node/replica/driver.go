package replica

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/node/replica/engine"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/push"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// Runtime is where a Driver runs: Run's over libp2p, or the simulator's
// network and clock. Its methods never block.
type Runtime interface {
	// Send sends req to p on protocol proto; the answer (at most maxResp
	// bytes) or the error reaches the driver later, through Answer with
	// the same id, on the driver's goroutine. Answers may come in any
	// order; the answer to a notification may never come.
	Send(id uint64, p peer.ID, proto string, req []byte, maxResp int)
	// Dial starts connecting to p.
	Dial(p peer.ID)
}

// Streamer is a Runtime that holds push subscriptions (streaming
// replication, package transport/push); a driver over a Runtime that is
// not one replicates by notifications and pulls only. Its methods never
// block.
type Streamer interface {
	// Subscribe opens subscription id to p with sub. Each batch reaches
	// the driver through Pushed, in order, and the end of the stream
	// through Unsubscribed, with the same id.
	Subscribe(id uint64, p peer.ID, sub push.Subscribe)
	// Credit gives n bytes of window back to the source of subscription id.
	Credit(id uint64, n uint64)
	// Unsubscribe closes subscription id; Unsubscribed may still come.
	Unsubscribe(id uint64)
}

// Driver runs the replication engine over a Replicator and a Runtime: it
// turns what happens (ticks, notifications, durable changes, metadata
// changes, answers) into engine messages, and executes each Ready: it
// builds the requests from the store, sends them, applies the answers,
// purges and truncates. It is the one driver of the node and of the
// simulator. It is not safe for concurrent use: one goroutine (Run's loop,
// the simulator's event loop) calls all of its methods, which block on the
// store but never on the network.
type Driver struct {
	r       *Replicator
	rt      Runtime
	eng     *engine.Engine
	view    *meta.View         // the metadata last stepped into the engine
	ids     map[string]peer.ID // the peer ID of each member of view but this node
	nextID  uint64
	calls   map[uint64]call
	applied int               // ops applied from answers and pushed batches, in all
	subs    map[string]uint64 // member -> id of its live subscription
	subOf   map[uint64]string // the reverse of subs
	owed    []owed            // credit of batches applied and not yet synced, in order
}

// owed is the credit of a pushed batch, given back once the store has
// synced the batch: a credit acknowledges what the subscriber holds.
type owed struct {
	id, bytes uint64
	change    uint64 // the change feed position the batch is applied at
}

// errNotMember fails a request to a member the metadata no longer names.
var errNotMember = errors.New("replica: not a member")

// call is a request sent whose answer is awaited.
type call struct {
	req  engine.Request
	peer peer.ID
	snap snapshot.Request // for a snapshot chunk
}

// NewDriver returns a driver of r over rt. It steps the metadata and the
// unfinished snapshot transfers of r's store into a new engine.
func NewDriver(ctx context.Context, r *Replicator, rt Runtime) *Driver {
	_, streams := rt.(Streamer)
	streams = streams && r.cfg.Push
	d := &Driver{r: r, rt: rt, calls: map[uint64]call{}, subs: map[string]uint64{}, subOf: map[uint64]string{},
		eng: engine.New(engine.Config{Self: r.cfg.Self, Push: streams,
			TruncateTicks: truncateTicks(r.cfg.Interval, r.cfg.Retention)})}
	d.refresh()
	pending, err := r.pendingSnapshots()
	if err != nil {
		r.cfg.Logger.Warn("read the unfinished snapshot transfers", "err", err)
	}
	for src, names := range pending {
		d.eng.Step(engine.Message{Type: engine.MsgPending, From: src, Names: names})
	}
	d.process(ctx)
	return d
}

// truncateTicks is the number of ticks between truncations: about a
// quarter of the retention, at most a minute, at least one tick.
func truncateTicks(interval, retention time.Duration) int {
	every := min(time.Minute, max(retention/4, interval))
	return max(1, int((every+interval-1)/interval))
}

// Tick is one anti-entropy interval.
func (d *Driver) Tick(ctx context.Context) {
	d.refresh()
	d.eng.Tick()
	d.process(ctx)
}

// MetaChanged is called when the metadata may have changed; the engine
// hears of it (and purges) at once rather than at the next tick.
func (d *Driver) MetaChanged(ctx context.Context) {
	d.refresh()
	d.process(ctx)
}

// Changed tells the driver that changes of datasets became durable, so
// that their readers are told.
func (d *Driver) Changed(ctx context.Context, datasets []string) {
	d.refresh()
	d.eng.Step(engine.Message{Type: engine.MsgChanged, Names: datasets})
	d.process(ctx)
}

// Notified tells the driver that peer from holds ops this node lacks
// (Handle's onNotify).
func (d *Driver) Notified(ctx context.Context, from peer.ID) {
	if m := memberOf(d.view, from); m != nil {
		d.eng.Step(engine.Message{Type: engine.MsgNotified, From: m.Name})
		d.process(ctx)
	}
}

// Answer delivers the answer resp, or the error err, to request id.
func (d *Driver) Answer(ctx context.Context, id uint64, resp []byte, err error) {
	c, ok := d.calls[id]
	if !ok {
		return
	}
	delete(d.calls, id)
	r := d.r
	if c.req.Kind == 0 {
		r.countBytes(pull.NotifyID, "received", len(resp))
		return // a notification's answer says nothing
	}
	r.countBytes(protoOf(c.req.Kind), "received", len(resp))
	m := engine.Message{From: c.req.To, Err: err != nil}
	switch c.req.Kind {
	case engine.Pull:
		m.Type = engine.MsgPullDone
		if err == nil {
			var truncated []pull.Truncated
			m.Applied, truncated, err = r.ApplyResponse(ctx, c.peer, resp)
			d.applied += m.Applied
			m.Names, m.Err = r.snapshotsFrom(c.peer, truncated), err != nil
		}
	case engine.Snapshot:
		m.Type, m.Names = engine.MsgSnapshotDone, []string{c.req.Dataset}
		if err == nil {
			m.More, err = r.applySnapshotChunk(ctx, c.peer, c.snap, resp)
			m.Err = err != nil
		}
	}
	if err != nil {
		r.cfg.Logger.Debug("sync: pull", "peer", c.req.To, "dataset", c.req.Dataset, "err", err)
	}
	d.eng.Step(m)
	d.process(ctx)
}

// Pushed delivers batch, pushed by the source of subscription id. It is
// applied with the checks of a pull answer and its bytes credited back;
// one that fails, or leaves a gap, ends the subscription (a pull repairs).
func (d *Driver) Pushed(ctx context.Context, id uint64, batch []byte) {
	name, ok := d.subOf[id]
	if !ok {
		return // a subscription closed meanwhile
	}
	n, err := d.r.applyPushed(ctx, d.ids[name], batch)
	d.applied += n
	if err != nil {
		d.r.stats.pushResets.WithLabelValues("reader").Inc()
		d.r.cfg.Logger.Debug("push: batch", "peer", name, "err", err)
		d.rt.(Streamer).Unsubscribe(id)
		d.Unsubscribed(ctx, id)
		return
	}
	d.owed = append(d.owed, owed{id: id, bytes: uint64(len(batch)), change: d.r.cfg.Store.Applied()})
	d.Synced()
}

// Synced gives back the credit of the pushed batches that the store has
// synced since they were applied. Run calls it when the durable position
// moves; the simulator, after each sync of its disk.
func (d *Driver) Synced() {
	durable := d.r.cfg.Store.Durable()
	n := 0
	for _, o := range d.owed {
		if o.change > durable {
			break
		}
		if _, live := d.subOf[o.id]; live {
			d.rt.(Streamer).Credit(o.id, o.bytes)
		}
		n++
	}
	d.owed = d.owed[n:]
}

// Unsubscribed tells the driver that subscription id ended.
func (d *Driver) Unsubscribed(ctx context.Context, id uint64) {
	name, ok := d.subOf[id]
	if !ok {
		return
	}
	delete(d.subOf, id)
	delete(d.subs, name)
	d.eng.Step(engine.Message{Type: engine.MsgUnsubscribed, From: name})
	d.process(ctx)
}

// Pending returns the number of requests awaiting an answer.
func (d *Driver) Pending() int { return len(d.calls) }

// Applied returns the number of replicated ops the driver applied.
func (d *Driver) Applied() int { return d.applied }

// refresh steps the metadata, if it changed, and the connected members
// into the engine.
func (d *Driver) refresh() {
	v := d.r.cfg.Meta.View()
	if v != d.view {
		d.view = v
		d.ids = map[string]peer.ID{}
		m := engine.Message{Type: engine.MsgMeta}
		for _, mb := range v.Members() {
			m.Members = append(m.Members, mb.Name)
			if id, err := peer.Decode(mb.PeerID); err == nil && mb.Name != d.r.cfg.Self {
				d.ids[mb.Name] = id
			}
		}
		for _, ds := range v.Datasets() {
			m.Datasets = append(m.Datasets, engine.Dataset{Name: ds.Name, Owner: ds.Owner, Readers: ds.Readers, PastOwners: ds.PastOwners})
		}
		d.eng.Step(m)
	}
	d.eng.Step(engine.Message{Type: engine.MsgSubscribers, Peers: d.r.subscribers()})
	m := engine.Message{Type: engine.MsgConnected}
	for _, mb := range v.Members() {
		if id, ok := d.ids[mb.Name]; ok && d.r.cfg.Network.Connected(id) {
			m.Peers = append(m.Peers, mb.Name)
		}
	}
	d.eng.Step(m)
}

// process executes the engine's Ready until it has nothing more to do.
func (d *Driver) process(ctx context.Context) {
	for d.eng.HasReady() {
		rd := d.eng.Ready()
		for _, q := range rd.Requests {
			d.send(q)
		}
		msgs := map[string][]byte{} // by datasets: readers of the same datasets get one message
		for _, n := range rd.Notifications {
			if id, ok := d.peerID(n.To); ok {
				key := strings.Join(n.Datasets, "\x00")
				msg, ok := msgs[key]
				if !ok {
					msg = d.r.NotifyMessage(n.Datasets)
					msgs[key] = msg
				}
				d.r.countBytes(pull.NotifyID, "sent", len(msg))
				d.nextID++
				d.calls[d.nextID] = call{peer: id}
				d.rt.Send(d.nextID, id, pull.NotifyID, msg, pull.MaxNotifyBytes)
			}
		}
		for _, name := range rd.Dial {
			if id, ok := d.peerID(name); ok {
				d.rt.Dial(id)
			}
		}
		d.subscribe(rd)
		if rd.Purge {
			_, deferred, err := d.r.purge(ctx)
			if err != nil {
				d.r.cfg.Logger.Warn("purge datasets no longer readable", "err", err)
			}
			d.eng.Step(engine.Message{Type: engine.MsgPurged, Deferred: deferred || err != nil})
		}
		if rd.Truncate {
			if _, err := d.r.Truncate(ctx); err != nil {
				d.r.cfg.Logger.Warn("truncate op history", "err", err)
			}
		}
		d.eng.Advance()
	}
}

// subscribe opens and closes the subscriptions of rd.
func (d *Driver) subscribe(rd engine.Ready) {
	st, ok := d.rt.(Streamer)
	if !ok {
		return
	}
	for _, name := range rd.Unsubscribe {
		if id, ok := d.subs[name]; ok {
			delete(d.subs, name)
			delete(d.subOf, id)
			st.Unsubscribe(id)
		}
	}
	for _, name := range rd.Subscribe {
		p, ok := d.peerID(name)
		sub, err := d.r.subscribeFrame()
		if !ok || err != nil {
			d.eng.Step(engine.Message{Type: engine.MsgUnsubscribed, From: name})
			continue
		}
		d.nextID++
		d.subs[name], d.subOf[d.nextID] = d.nextID, name
		st.Subscribe(d.nextID, p, sub)
	}
}

// send builds request q from the store and sends it; one that cannot be
// built fails at once.
func (d *Driver) send(q engine.Request) {
	c := call{req: q}
	id, ok := d.peerID(q.To)
	var b []byte
	var err error
	switch {
	case !ok:
		err = errNotMember
	case q.Kind == engine.Pull:
		b, err = d.r.pullRequest()
		if err == nil && b == nil {
			d.eng.Step(engine.Message{Type: engine.MsgPullDone, From: q.To}) // nothing to read
			return
		}
	default:
		c.snap, err = d.r.snapshotRequest(id, q.Dataset, q.First)
		b, _ = json.Marshal(c.snap)
	}
	if err != nil {
		d.r.cfg.Logger.Debug("sync: build a request", "peer", q.To, "err", err)
		m := engine.Message{Type: engine.MsgPullDone, From: q.To, Err: true}
		if q.Kind == engine.Snapshot {
			m.Type, m.Names = engine.MsgSnapshotDone, []string{q.Dataset}
		}
		d.eng.Step(m)
		return
	}
	c.peer = id
	proto, max := pull.ID, pull.MaxResponseBytes
	if q.Kind == engine.Snapshot {
		proto, max = snapshot.ID, snapshot.MaxResponseBytes
	}
	d.r.countBytes(proto, "sent", len(b))
	d.nextID++
	d.calls[d.nextID] = c
	d.rt.Send(d.nextID, id, proto, b, max)
}

func protoOf(k engine.Kind) string {
	if k == engine.Snapshot {
		return snapshot.ID
	}
	return pull.ID
}

// peerID returns the peer ID of member name.
func (d *Driver) peerID(name string) (peer.ID, bool) {
	id, ok := d.ids[name]
	return id, ok
}
