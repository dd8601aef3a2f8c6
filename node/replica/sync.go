package replica

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/pull"
)

// serveSync answers a sync request: for each dataset the requester may read,
// the ops of each stream beyond the requester's head, up to the durable
// head: it never hands out an op of its own that a crash could take back
// (the node would then write a different op there: a fork). Ops and
// signatures at or below a durable head never change, so they are read
// from the live store.
func (r *Replicator) serveSync(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	v := r.cfg.Meta.View()
	m := memberOf(v, from)
	if m == nil {
		return nil, fmt.Errorf("sync from %s: not a member", from)
	}
	var q pull.Request
	if err := json.Unmarshal(req, &q); err != nil {
		return nil, fmt.Errorf("sync from %s: %w", m.Name, err)
	}
	theirs := haves(q.Have)
	r.mu.Lock()
	r.mu.acked[m.Name] = ack{seqs: acknowledged(q), at: r.cfg.Now()}
	r.mu.Unlock()
	resp, err := r.answer(v, m, q.Datasets, theirs)
	if err != nil {
		return nil, err
	}
	return pull.EncodeResponse(resp), nil
}

func haves(hs []pull.Have) map[storage.Stream]uint64 {
	m := make(map[storage.Stream]uint64, len(hs))
	for _, h := range hs {
		m[storage.Stream{Dataset: h.Dataset, Origin: h.Origin}] = h.Seq
	}
	return m
}

// acknowledged is what the requester of q holds for good: Have lowered by
// Synced.
func acknowledged(q pull.Request) map[storage.Stream]uint64 {
	m := haves(q.Have)
	for _, h := range q.Synced {
		if st := (storage.Stream{Dataset: h.Dataset, Origin: h.Origin}); h.Seq < m[st] {
			m[st] = h.Seq
		}
	}
	return m
}

// answer returns the ops of the datasets (those member m may read) beyond
// theirs, up to the durable heads: the one builder of pull answers and
// pushed batches.
func (r *Replicator) answer(v *meta.View, m *meta.Member, datasets []string, theirs map[storage.Stream]uint64) (pull.Response, error) {
	var resp pull.Response
	budget := r.cfg.MaxResponseOpBytes
	seen := map[string]bool{}
	for _, name := range datasets {
		ds := v.Dataset(name)
		if seen[name] || ds == nil || !ds.CanRead(m.Name) {
			continue // never tell what a peer may not read
		}
		seen[name] = true
		heads := r.cfg.Store.DurableHeads(name)
		for _, st := range sortedStreams(heads) {
			their := theirs[st]
			if heads[st].Seq <= their || budget <= 0 {
				continue
			}
			floor, err := r.cfg.Store.Floor(st.Dataset, st.Origin)
			if err != nil {
				return pull.Response{}, err
			}
			// Behind the floor, the ops are gone; far behind, the owner's
			// snapshot is smaller than the ops (no hash chain, no
			// overwritten values): either way, a snapshot it is.
			if their < floor || ds.Owner == r.cfg.Self && r.cfg.SnapshotAfterOps > 0 && heads[st].Seq-their > uint64(r.cfg.SnapshotAfterOps) {
				resp.Truncated = append(resp.Truncated, pull.Truncated{Dataset: st.Dataset, Origin: st.Origin, Floor: floor})
				continue
			}
			b, err := r.batchFor(st, their, heads[st].Seq)
			if err != nil {
				r.cfg.Logger.Warn("sync: serve stream", "dataset", st.Dataset, "origin", st.Origin, "err", err)
				continue
			}
			if b == nil {
				continue
			}
			for _, op := range b.Ops {
				budget -= len(op)
			}
			resp.Batches = append(resp.Batches, *b)
		}
	}
	return resp, nil
}

// batchFor returns the ops of stream st after seq from, ending at a signed
// head: for this node's own streams it signs one; for others it ends where
// it holds the origin's signature. Nil when it has nothing signed to give.
func (r *Replicator) batchFor(st storage.Stream, from, head uint64) (*pull.Batch, error) {
	end := min(head, from+uint64(r.cfg.MaxBatchOps))
	var sig []byte
	if st.Origin != r.cfg.Self {
		seq, s, err := r.signatureFor(st, from, end)
		if err != nil || s == nil {
			return nil, err
		}
		end, sig = seq, s
	}
	b := &pull.Batch{Head: pull.SignedHead{Dataset: st.Dataset, Origin: st.Origin, Seq: end, Sig: sig}}
	size, cut := 0, false
	err := r.cfg.Store.OpRange(st.Dataset, st.Origin, from+1, end, func(seq uint64, enc []byte) bool {
		b.Ops = append(b.Ops, slices.Clone(enc))
		size += len(enc)
		// A batch of this node's own stream ends at a byte budget too, so
		// that ops up to crdt.MaxOpBytes never make a response too large
		// for a reader to take; another origin's ends at its signature.
		cut = sig == nil && size >= r.cfg.MaxResponseOpBytes && seq < end
		return !cut
	})
	if err != nil {
		return nil, err
	}
	if cut {
		end = from + uint64(len(b.Ops))
		b.Head.Seq = end
	}
	if uint64(len(b.Ops)) != end-from {
		return nil, fmt.Errorf("op log of %s/%s has %d ops in (%d, %d]: the store breaks its floor invariant",
			st.Dataset, st.Origin, len(b.Ops), from, end)
	}
	b.Head.Hash = pull.HashOp(b.Ops[len(b.Ops)-1])
	if sig == nil {
		if err := b.Head.Sign(r.cfg.Key); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// signatureFor finds a stored signature of stream st at a seq after from:
// the greatest one not beyond end, else the smallest beyond it.
func (r *Replicator) signatureFor(st storage.Stream, from, end uint64) (uint64, []byte, error) {
	var best uint64
	var sig []byte
	prefix := sigPrefix(st)
	err := r.cfg.Store.ScanLocalFrom(prefix, sigKey(st, from+1), func(name string, v []byte) error {
		seq := binary.BigEndian.Uint64([]byte(name[len(prefix):]))
		switch {
		case seq <= end:
			best, sig = seq, slices.Clone(v)
		case sig == nil:
			best, sig = seq, slices.Clone(v)
			return errStop
		default:
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return best, sig, err
}

var errStop = errors.New("stop")

// Pull fetches from p what this node lacks, round after round until p has
// nothing more (at most 64 rounds). Where p, as the owner of a dataset, no
// longer holds ops this node lacks, it fetches the dataset's snapshot from
// p, resuming one that was interrupted. It returns the ops applied.
func (r *Replicator) Pull(ctx context.Context, p peer.ID) (int, error) {
	if err := r.resumeSnapshots(ctx, p); err != nil {
		return 0, err
	}
	total := 0
	for round := 0; round < 64; round++ {
		n, truncated, err := r.PullOnce(ctx, p)
		total += n
		if err != nil {
			return total, err
		}
		fetched := false
		for _, ds := range r.snapshotsFrom(p, truncated) {
			if err := r.fetchSnapshot(ctx, p, ds); err != nil {
				return total, err
			}
			fetched = true
		}
		if n == 0 && !fetched {
			break
		}
	}
	return total, nil
}

// PullOnce sends p this node's version vector and applies one answer; it
// returns the number of ops applied and the streams p no longer holds far
// enough back.
func (r *Replicator) PullOnce(ctx context.Context, p peer.ID) (int, []pull.Truncated, error) {
	req, err := r.pullRequest()
	if err != nil || req == nil {
		return 0, nil, err
	}
	resp, err := r.request(ctx, p, pull.ID, req, pull.MaxResponseBytes)
	if err != nil {
		return 0, nil, err
	}
	return r.ApplyResponse(ctx, p, resp)
}

// pullRequest returns a sync request: the datasets this node may read and
// its version vector; nil if it may read none.
func (r *Replicator) pullRequest() ([]byte, error) {
	q, err := r.versionVector()
	if err != nil || len(q.Datasets) == 0 {
		return nil, err
	}
	return json.Marshal(q)
}

// versionVector returns the datasets this node may read and its heads.
func (r *Replicator) versionVector() (pull.Request, error) {
	v := r.cfg.Meta.View()
	var q pull.Request
	for _, ds := range v.Datasets() {
		if ds.CanRead(r.cfg.Self) {
			q.Datasets = append(q.Datasets, ds.Name)
		}
	}
	if len(q.Datasets) == 0 {
		return q, nil
	}
	// Durable first: a sync between the two reads then makes Synced
	// only more conservative, never ahead of what is on disk.
	durable := r.cfg.Store.DurableHeads("")
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return pull.Request{}, err
	}
	for _, st := range sortedStreams(heads) {
		h := pull.Have{Dataset: st.Dataset, Origin: st.Origin, Seq: heads[st].Seq}
		q.Have = append(q.Have, h)
		if d := durable[st].Seq; d < h.Seq {
			h.Seq = d
			q.Synced = append(q.Synced, h)
		}
	}
	return q, nil
}

// ApplyResponse verifies and applies a sync answer from p (however late or
// often it arrives: what this node has is skipped). It returns the ops
// applied and the streams p no longer holds far enough back.
func (r *Replicator) ApplyResponse(ctx context.Context, p peer.ID, resp []byte) (int, []pull.Truncated, error) {
	res, decoded, err := pull.DecodeResponse(resp)
	if err != nil {
		return 0, nil, r.reject(p, storage.Stream{}, "malformed", err)
	}
	r.stats.bytes.WithLabelValues("sync", "received_decoded").Add(float64(decoded))
	return r.applyDecoded(ctx, p, res)
}

// applyDecoded verifies and applies a decoded sync answer or pushed batch.
func (r *Replicator) applyDecoded(ctx context.Context, p peer.ID, res pull.Response) (int, []pull.Truncated, error) {
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return 0, nil, err
	}
	applied := 0
	for _, b := range res.Batches {
		n, err := r.apply(ctx, p, b, heads)
		applied += n
		if err != nil && ctx.Err() != nil {
			return applied, nil, err
		}
	}
	r.mu.Lock()
	r.mu.lastSync[p] = r.cfg.Now()
	r.mu.Unlock()
	return applied, res.Truncated, nil
}

// apply verifies one batch and applies the ops this node lacks.
func (r *Replicator) apply(ctx context.Context, from peer.ID, b pull.Batch, heads map[storage.Stream]storage.Head) (int, error) {
	start := r.cfg.Now()
	st := storage.Stream{Dataset: b.Head.Dataset, Origin: b.Head.Origin}
	if r.isQuarantined(from, st) || r.isFrozen(st) {
		return 0, nil
	}
	v := r.cfg.Meta.View()
	origin := v.Member(st.Origin)
	if origin == nil {
		return 0, r.reject(from, st, "unknown_origin", fmt.Errorf("origin %q is not a member", st.Origin))
	}
	id, err := peer.Decode(origin.PeerID)
	if err == nil {
		err = b.Head.Verify(id)
	}
	if err != nil {
		return 0, r.reject(from, st, "signature", err)
	}
	head := heads[st]
	if uint64(len(b.Ops)) > b.Head.Seq {
		return 0, r.reject(from, st, "malformed", fmt.Errorf("%d ops end at seq %d", len(b.Ops), b.Head.Seq))
	}
	if len(b.Ops) == 0 {
		return 0, nil
	}
	first := b.Head.Seq - uint64(len(b.Ops)) + 1
	if pull.HashOp(b.Ops[len(b.Ops)-1]) != b.Head.Hash {
		return 0, r.reject(from, st, "chain", fmt.Errorf("last op does not hash to the signed head %d", b.Head.Seq))
	}
	// Ops this node has must be the very same: anything else, signed by the
	// origin, is a fork.
	if ev, err := r.checkFork(from, st, first, head.Seq, b.Ops); err != nil {
		return 0, err
	} else if ev != nil {
		if err := verifyChain(first, b.Ops); err != nil {
			return 0, r.reject(from, st, "chain", err) // not signed: no proof, just a bad batch
		}
		if err := r.freeze(ev); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("fork in %s/%s at seq %d", st.Dataset, st.Origin, ev.Seq)
	}
	if b.Head.Seq <= head.Seq {
		return 0, nil // nothing new
	}
	if first > head.Seq+1 {
		return 0, r.reject(from, st, "gap", fmt.Errorf("batch starts at %d, this node is at %d", first, head.Seq))
	}
	// Decode the ops this node lacks and check they chain from its head to
	// the signed hash.
	prev := head.Hash
	var ops []*crdt.Op
	for i, enc := range b.Ops {
		seq := first + uint64(i)
		if seq <= head.Seq {
			continue
		}
		op, err := crdt.DecodeOp(enc)
		if err != nil {
			return 0, r.reject(from, st, "malformed", err)
		}
		if op.Dataset != st.Dataset || op.Origin != st.Origin || op.Seq != seq || op.Prev != prev {
			return 0, r.reject(from, st, "chain", fmt.Errorf("op %d does not continue the stream", seq))
		}
		prev = pull.HashOp(enc)
		ops = append(ops, op)
	}
	if prev != b.Head.Hash {
		return 0, r.reject(from, st, "chain", fmt.Errorf("ops do not hash to the signed head %d", b.Head.Seq))
	}
	err = r.cfg.Engine.ApplyRemote(ctx, ops, func(tx *storage.Txn) {
		if st.Origin != r.cfg.Self {
			tx.PutLocal(sigKey(st, b.Head.Seq), b.Head.Sig)
		}
	})
	if err != nil {
		var re *data.RemoteError
		if errors.As(err, &re) && re.Reason == data.MetadataAhead {
			r.cfg.Logger.Debug("sync: ops wait for metadata", "dataset", st.Dataset, "origin", st.Origin, "err", err)
			return 0, nil
		}
		if errors.As(err, &re) {
			return 0, r.reject(from, st, re.Reason, err)
		}
		return 0, err
	}
	r.stats.applied.WithLabelValues(st.Dataset).Add(float64(len(ops)))
	r.stats.applyDuration.Observe(r.cfg.Now().Sub(start).Seconds())
	return len(ops), nil
}

// verifyChain checks that ops (from seq first) chain to each other, so the
// signature on the last covers them all.
func verifyChain(first uint64, ops [][]byte) error {
	for i := 1; i < len(ops); i++ {
		op, err := crdt.DecodeOp(ops[i])
		if err != nil {
			return err
		}
		if op.Prev != pull.HashOp(ops[i-1]) {
			return fmt.Errorf("op %d does not chain to op %d", first+uint64(i), first+uint64(i)-1)
		}
	}
	return nil
}
