package replica

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/lienthong/lienthong/storage"
)

// Purge deletes every dataset this node holds but may no longer read (its
// read right was revoked, or the dataset moved away from it): the entity
// states, the streams and what replication kept of them. A former owner
// waits until the new owner has pulled every op it wrote. Evidence of forks
// stays. It returns the datasets purged. A pull validated against the old
// metadata may still apply after a purge; the next purge removes it.
func (r *Replicator) Purge(ctx context.Context) ([]string, error) {
	out, _, err := r.purge(ctx)
	return out, err
}

// purge is Purge; deferred reports whether a former owner kept a dataset
// for its new owner to pull, so that the purge is to run again.
func (r *Replicator) purge(ctx context.Context) (out []string, deferred bool, err error) {
	v := r.cfg.Meta.View()
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return nil, false, err
	}
	held := map[string]bool{}
	for st := range heads {
		held[st.Dataset] = true
	}
	err = r.cfg.Store.ScanLocal(progressPrefix, func(name string, _ []byte) error {
		held[strings.TrimPrefix(name, progressPrefix)] = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	for _, name := range slices.Sorted(maps.Keys(held)) {
		ds := v.Dataset(name)
		if ds == nil || ds.CanRead(r.cfg.Self) {
			continue // a dataset this node does not know of is left for an operator
		}
		if r.ownOpsUnacked(ds.Owner, heads, name) {
			// A former owner keeps its own ops, which still apply, until the
			// new owner has them.
			deferred = true
			continue
		}
		n, err := r.cfg.Store.DropDataset(ctx, ds.EntityType, ds.KeyPrefix, name)
		if err != nil {
			return out, deferred, err
		}
		err = r.cfg.Store.Update(ctx, func(tx *storage.Txn) error {
			tx.DeleteLocalRange("sig/"+name+"\x00", "sig/"+name+"\x01") // every stream's signatures
			tx.PutLocal(progressKey(name), nil)
			return nil
		})
		if err != nil {
			return out, deferred, err
		}
		r.cfg.Logger.Info("purged a dataset this node may no longer read", "dataset", name, "entities", n)
		out = append(out, name)
	}
	return out, deferred, nil
}

// ownOpsUnacked reports whether member owner has not yet acknowledged every
// op of this node's own streams of dataset.
func (r *Replicator) ownOpsUnacked(owner string, heads map[storage.Stream]storage.Head, dataset string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for st, h := range heads {
		if st.Dataset == dataset && st.Origin == r.cfg.Self && r.mu.acked[owner].seqs[st] < h.Seq {
			return true
		}
	}
	return false
}
