package replica

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/digest"
)

// DatasetDigest computes the digest of dataset name on st: for each
// entity, its key and the canonical encoding of its state in the dataset.
// Replicas that applied the same ops have the same digest.
func DatasetDigest(st *storage.Store, typ, keyPrefix, name string) (*digest.Digest, error) {
	b := digest.NewBuilder(name)
	after := ""
	for {
		page, err := st.Entities(typ, keyPrefix, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return b.Digest(), nil
		}
		for _, e := range page {
			after = e.Key
			for _, s := range e.States {
				if s.Dataset == name {
					b.Add(e.Key, crdt.AppendState(nil, s.State))
				}
			}
		}
	}
}

func (r *Replicator) serveDigest(from peer.ID, req []byte) ([]byte, error) {
	v := r.cfg.Meta.View()
	m := memberOf(v, from)
	name := string(req)
	ds := v.Dataset(name)
	if m == nil || ds == nil || !ds.CanRead(m.Name) {
		return json.Marshal(digest.Digest{Dataset: name, Error: "no such dataset for this peer"})
	}
	d, err := DatasetDigest(r.cfg.Store, ds.EntityType, ds.KeyPrefix, name)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}

// Compare fetches peer p's digest of dataset name and compares it with this
// node's: it returns the buckets that differ (empty when the replicas agree).
func (r *Replicator) Compare(ctx context.Context, p peer.ID, name string) (mine *digest.Digest, differ []int, err error) {
	ds := r.cfg.Meta.View().Dataset(name)
	if ds == nil {
		return nil, nil, fmt.Errorf("dataset %q does not exist", name)
	}
	mine, err = DatasetDigest(r.cfg.Store, ds.EntityType, ds.KeyPrefix, name)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.request(ctx, p, digest.ID, []byte(name), digest.MaxResponseBytes)
	if err != nil {
		return nil, nil, err
	}
	theirs, err := digest.Decode(b, name)
	if err != nil {
		return nil, nil, fmt.Errorf("peer %s: %w", p, err)
	}
	return mine, digest.Differ(mine, theirs), nil
}
