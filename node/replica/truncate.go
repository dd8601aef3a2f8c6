package replica

import (
	"context"
	"maps"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/storage"
)

// Truncate drops, from each stream this node holds, the ops older than the
// retention that every reader which pulled from this node within the
// retention already has. A reader silent for longer than the retention no
// longer holds history back: if it returns behind the new floor, the
// dataset's owner sends it a snapshot. It returns the ops dropped.
func (r *Replicator) Truncate(ctx context.Context) (int, error) {
	if r.cfg.Retention < 0 {
		return 0, nil
	}
	now := r.cfg.Now()
	cutoff := now.Add(-r.cfg.Retention).UnixMilli()
	v := r.cfg.Meta.View()
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	acked := maps.Clone(r.mu.acked)
	r.mu.Unlock()
	total := 0
	for _, st := range sortedStreams(heads) {
		ds := v.Dataset(st.Dataset)
		if ds == nil {
			continue
		}
		keep := heads[st].Seq // the highest seq that may go
		for _, name := range readersOf(ds) {
			a, ok := acked[name]
			if name == r.cfg.Self || !ok || now.Sub(a.at) > r.cfg.Retention {
				continue
			}
			keep = min(keep, a.seqs[st])
		}
		floor, err := r.cfg.Store.Floor(st.Dataset, st.Origin)
		if err != nil {
			return total, err
		}
		if keep <= floor {
			continue
		}
		upTo := floor
		err = r.cfg.Store.OpRange(st.Dataset, st.Origin, floor+1, keep, func(seq uint64, enc []byte) bool {
			op, err := crdt.DecodeOp(enc)
			if err != nil || op.Time.WallMillis >= cutoff {
				return false
			}
			upTo = seq
			return true
		})
		if err != nil {
			return total, err
		}
		if upTo == floor {
			continue
		}
		err = r.cfg.Store.Update(ctx, func(tx *storage.Txn) error {
			if err := tx.Truncate(st.Dataset, st.Origin, upTo); err != nil {
				return err
			}
			tx.DeleteLocalRange(sigKey(st, 0), sigKey(st, upTo))
			return nil
		})
		if err != nil {
			return total, err
		}
		total += int(upTo - floor)
		r.stats.truncated.WithLabelValues(st.Dataset).Add(float64(upTo - floor))
		r.cfg.Logger.Debug("truncated op history", "dataset", st.Dataset, "origin", st.Origin, "floor", upTo)
	}
	return total, nil
}
