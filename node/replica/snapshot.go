package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// A node behind the point where a dataset's owner truncated its history
// fetches the dataset's snapshot from the owner: the owner's version vector
// for the dataset (each head signed by its origin), then the entity states
// in key order, chunk by chunk. Each chunk is merged into the node's states
// in one batch with the cursor, so a broken transfer resumes where it
// stopped; with the last chunk the heads are installed and the node goes on
// with ops. States only grow, so states read after the version vector still
// hold every op up to it.

// progress is an unfinished snapshot transfer, kept at progressKey.
type progress struct {
	Source string          `json:"source"` // member the snapshot comes from
	Heads  []snapshot.Head `json:"heads"`
	After  string          `json:"after"` // last key applied
	Chunks int             `json:"chunks"`
}

const progressPrefix = "snapshot/"

func progressKey(dataset string) string { return progressPrefix + dataset }

// serveSnapshot answers one chunk of a dataset snapshot.
func (r *Replicator) serveSnapshot(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	v := r.cfg.Meta.View()
	m := memberOf(v, from)
	if m == nil {
		return nil, fmt.Errorf("snapshot from %s: not a member", from)
	}
	var q snapshot.Request
	if err := json.Unmarshal(req, &q); err != nil {
		return snapshot.Encode(snapshot.Chunk{Error: "malformed request: " + err.Error()}), nil
	}
	ds := v.Dataset(q.Dataset)
	if ds == nil || !ds.CanRead(m.Name) {
		return snapshot.Encode(snapshot.Chunk{Error: fmt.Sprintf("no dataset %q for %s", q.Dataset, m.Name)}), nil
	}
	snap, err := r.cfg.Store.DurableSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	var c snapshot.Chunk
	if q.Heads {
		heads, err := snap.Heads(ds.Name)
		if err != nil {
			return nil, err
		}
		for _, st := range sortedStreams(heads) {
			h := heads[st]
			sh := snapshot.Head{SignedHead: pull.SignedHead{Dataset: st.Dataset, Origin: st.Origin, Seq: h.Seq, Hash: h.Hash},
				WallMillis: h.Time.WallMillis, Logical: h.Time.Logical}
			if st.Origin == r.cfg.Self {
				if err := sh.Sign(r.cfg.Key); err != nil {
					return nil, err
				}
			} else if sh.Sig, err = snap.GetLocal(sigKey(st, h.Seq)); err != nil {
				// Every head of another origin ends a batch it signed; one
				// that does not cannot be vouched for.
				r.cfg.Logger.Warn("snapshot: no signature for a head; stream left out", "dataset", st.Dataset,
					"origin", st.Origin, "seq", h.Seq, "err", err)
				continue
			}
			c.Heads = append(c.Heads, sh)
		}
	}
	budget := r.cfg.SnapshotChunkBytes
	after := q.After
	for budget > 0 {
		page, err := snap.Entities(ds.EntityType, ds.KeyPrefix, after, 256)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			after = e.Key
			for _, s := range e.States {
				if s.Dataset == ds.Name {
					enc := crdt.AppendState(nil, s.State)
					c.Entries = append(c.Entries, snapshot.Entry{Key: e.Key, State: enc})
					budget -= len(e.Key) + len(enc)
				}
			}
			if budget <= 0 {
				c.More = true
				break
			}
		}
	}
	r.stats.chunks.WithLabelValues("sent").Inc()
	return snapshot.Encode(c), nil
}

// snapshotsFrom returns the datasets that p, their owner, says it no longer
// holds far enough back: this node needs their snapshot from p.
func (r *Replicator) snapshotsFrom(p peer.ID, truncated []pull.Truncated) []string {
	v := r.cfg.Meta.View()
	var out []string
	for _, t := range truncated {
		ds := v.Dataset(t.Dataset)
		if ds == nil || !ds.CanRead(r.cfg.Self) || ds.Owner == r.cfg.Self {
			continue
		}
		if o := v.Member(ds.Owner); o == nil || o.PeerID != p.String() {
			continue // only the owner's word on a state needs no other proof
		}
		if len(out) == 0 || out[len(out)-1] != t.Dataset {
			out = append(out, t.Dataset)
		}
	}
	return out
}

// resumeSnapshots continues the snapshot transfers from p that were
// interrupted.
func (r *Replicator) resumeSnapshots(ctx context.Context, p peer.ID) error {
	v := r.cfg.Meta.View()
	m := memberOf(v, p)
	if m == nil {
		return nil
	}
	var pending []string
	err := r.cfg.Store.ScanLocal(progressPrefix, func(name string, b []byte) error {
		var pr progress
		if json.Unmarshal(b, &pr) == nil && pr.Source == m.Name {
			pending = append(pending, strings.TrimPrefix(name, progressPrefix))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ds := range pending {
		if d := v.Dataset(ds); d == nil || d.Owner != m.Name {
			continue // fetchSnapshot from the new owner starts afresh
		}
		if err := r.fetchSnapshot(ctx, p, ds); err != nil {
			return err
		}
	}
	return nil
}

// fetchSnapshot fetches dataset's snapshot from p, chunk by chunk,
// resuming the transfer recorded for it if p is its source.
func (r *Replicator) fetchSnapshot(ctx context.Context, p peer.ID, dataset string) error {
	for first := true; ; first = false {
		q, err := r.snapshotRequest(p, dataset, first)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(q)
		resp, err := r.request(ctx, p, snapshot.ID, b, snapshot.MaxResponseBytes)
		if err != nil {
			return fmt.Errorf("snapshot of %s from %s: %w", dataset, p, err)
		}
		more, err := r.applySnapshotChunk(ctx, p, q, resp)
		if err != nil || !more {
			return err
		}
	}
}

// transfer returns the member p and the unfinished transfer of dataset's
// snapshot from it (nil if none).
func (r *Replicator) transfer(p peer.ID, dataset string) (*meta.Member, *progress, error) {
	src := memberOf(r.cfg.Meta.View(), p)
	if src == nil {
		return nil, nil, fmt.Errorf("snapshot of %s: %s is not a member", dataset, p)
	}
	b, err := r.cfg.Store.GetLocal(progressKey(dataset))
	if errors.Is(err, storage.ErrNotFound) {
		return src, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var pr progress
	if json.Unmarshal(b, &pr) != nil || pr.Source != src.Name {
		return src, nil, nil
	}
	return src, &pr, nil
}

// snapshotRequest returns the request of the next chunk of dataset's
// snapshot from p: after the transfer recorded if p is its source, else
// the first of a new one. first marks the first request of a fetch, which
// is counted and logged.
func (r *Replicator) snapshotRequest(p peer.ID, dataset string, first bool) (snapshot.Request, error) {
	src, pr, err := r.transfer(p, dataset)
	if err != nil {
		return snapshot.Request{}, err
	}
	switch {
	case first && pr != nil:
		r.stats.snapshots.WithLabelValues("resumed").Inc()
		r.cfg.Logger.Info("snapshot: resuming", "dataset", dataset, "peer", src.Name, "after", pr.After, "chunks", pr.Chunks)
	case first:
		r.stats.snapshots.WithLabelValues("started").Inc()
		r.cfg.Logger.Info("snapshot: fetching; the peer no longer holds the ops this node lacks", "dataset", dataset, "peer", src.Name)
	}
	return snapshot.Request{Dataset: dataset, After: afterOf(pr), Heads: pr == nil}, nil
}

// errTransferMoved is returned for a chunk that answers a request made
// before the transfer it continues changed.
var errTransferMoved = errors.New("replica: the snapshot transfer changed since the chunk was asked for")

// applySnapshotChunk verifies and applies p's answer resp to the chunk
// request q; it reports whether more chunks follow.
func (r *Replicator) applySnapshotChunk(ctx context.Context, p peer.ID, q snapshot.Request, resp []byte) (bool, error) {
	dataset := q.Dataset
	src, pr, err := r.transfer(p, dataset)
	if err != nil {
		return false, err
	}
	if q.Heads {
		pr = nil // a new transfer, whatever another source left
	} else if pr == nil || pr.After != q.After {
		return false, fmt.Errorf("snapshot of %s from %s: %w", dataset, src.Name, errTransferMoved)
	}
	st := storage.Stream{Dataset: dataset}
	c, decoded, err := snapshot.Decode(resp)
	if err != nil {
		return false, r.reject(p, st, "malformed", err)
	}
	r.stats.bytes.WithLabelValues("snapshot", "received_decoded").Add(float64(decoded))
	if c.Error != "" {
		return false, fmt.Errorf("snapshot of %s from %s refused: %s", dataset, src.Name, c.Error)
	}
	if pr == nil {
		if err := r.checkHeads(p, dataset, c.Heads); err != nil {
			return false, err
		}
		pr = &progress{Source: src.Name, Heads: c.Heads}
	}
	states := make([]data.KeyState, 0, len(c.Entries))
	for _, e := range c.Entries {
		if e.Key <= pr.After && pr.After != "" || len(states) > 0 && e.Key <= states[len(states)-1].Key {
			return false, r.reject(p, st, "malformed", fmt.Errorf("snapshot keys out of order at %q", e.Key))
		}
		s, err := crdt.DecodeState(e.State)
		if err != nil {
			return false, r.reject(p, st, "malformed", fmt.Errorf("state of %q: %w", e.Key, err))
		}
		states = append(states, data.KeyState{Key: e.Key, State: s})
	}
	next := *pr
	next.Chunks++
	if len(states) > 0 {
		next.After = states[len(states)-1].Key
	}
	err = r.cfg.Engine.ApplyStates(ctx, dataset, src.Name, states, func(tx *storage.Txn) error {
		if c.More {
			b, _ := json.Marshal(next)
			tx.PutLocal(progressKey(dataset), b)
			return nil
		}
		tx.PutLocal(progressKey(dataset), nil)
		for _, h := range next.Heads {
			if h.Origin == r.cfg.Self {
				continue // a node never takes its own stream from another
			}
			ok, err := tx.Install(dataset, h.Origin, storage.Head{Seq: h.Seq, Hash: h.Hash,
				Time: crdt.Timestamp{WallMillis: h.WallMillis, Logical: h.Logical}})
			if err != nil {
				return err
			}
			if ok {
				tx.PutLocal(sigKey(storage.Stream{Dataset: dataset, Origin: h.Origin}, h.Seq), h.Sig)
			}
		}
		return nil
	})
	if err != nil {
		var re *data.RemoteError
		if errors.As(err, &re) {
			return false, r.reject(p, st, re.Reason, err)
		}
		return false, err
	}
	r.stats.chunks.WithLabelValues("received").Inc()
	if !c.More {
		r.stats.snapshots.WithLabelValues("installed").Inc()
		r.cfg.Logger.Info("snapshot: installed", "dataset", dataset, "peer", src.Name, "chunks", next.Chunks)
	}
	return c.More, nil
}

// pendingSnapshots returns the unfinished snapshot transfers, by source
// member.
func (r *Replicator) pendingSnapshots() (map[string][]string, error) {
	out := map[string][]string{}
	err := r.cfg.Store.ScanLocal(progressPrefix, func(name string, b []byte) error {
		var pr progress
		if json.Unmarshal(b, &pr) == nil && pr.Source != "" {
			out[pr.Source] = append(out[pr.Source], strings.TrimPrefix(name, progressPrefix))
		}
		return nil
	})
	return out, err
}

func afterOf(pr *progress) string {
	if pr == nil {
		return ""
	}
	return pr.After
}

// checkHeads verifies a snapshot's version vector: every head of the
// dataset, signed by its origin.
func (r *Replicator) checkHeads(p peer.ID, dataset string, heads []snapshot.Head) error {
	v := r.cfg.Meta.View()
	for _, h := range heads {
		st := storage.Stream{Dataset: dataset, Origin: h.Origin}
		if h.Dataset != dataset {
			return r.reject(p, st, "malformed", fmt.Errorf("snapshot of %s holds a head of %s", dataset, h.Dataset))
		}
		o := v.Member(h.Origin)
		if o == nil {
			return r.reject(p, st, "unknown_origin", fmt.Errorf("origin %q is not a member", h.Origin))
		}
		id, err := peer.Decode(o.PeerID)
		if err == nil {
			err = h.Verify(id)
		}
		if err != nil {
			return r.reject(p, st, "signature", err)
		}
	}
	return nil
}
