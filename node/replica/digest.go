package replica

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
)

// DigestProtocol asks a peer for the digest of a dataset's state.
const DigestProtocol = "/lienthong/digest/1.0.0"

// Buckets is the number of key ranges a digest splits a dataset into: a key
// falls in the bucket of the first byte of its SHA-256.
const Buckets = 256

// Digest summarises a dataset's entity states on one node: one hash per
// bucket of keys, so two replicas can name where they differ without
// sending their data.
type Digest struct {
	Dataset  string            `json:"dataset"`
	Entities int               `json:"entities"`
	Buckets  [Buckets][32]byte `json:"-"`
	Hex      [Buckets]string   `json:"buckets"`
	Total    [32]byte          `json:"-"`
}

// DatasetDigest computes the digest of dataset name on st: for each
// entity, its key and the canonical encoding of its state in the dataset.
// Replicas that applied the same ops have the same digest.
func DatasetDigest(st *storage.Store, typ, keyPrefix, name string) (*Digest, error) {
	d := &Digest{Dataset: name}
	hs := make([][]byte, Buckets)
	after := ""
	for {
		page, err := st.Entities(typ, keyPrefix, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			after = e.Key
			for _, s := range e.States {
				if s.Dataset != name {
					continue
				}
				k := sha256.Sum256([]byte(e.Key))
				h := sha256.New()
				h.Write([]byte(e.Key))
				h.Write(crdt.AppendState(nil, s.State))
				hs[k[0]] = h.Sum(hs[k[0]])
				d.Entities++
			}
		}
	}
	all := sha256.New()
	for i := range d.Buckets {
		d.Buckets[i] = sha256.Sum256(hs[i])
		d.Hex[i] = fmt.Sprintf("%x", d.Buckets[i][:8])
		all.Write(d.Buckets[i][:])
	}
	copy(d.Total[:], all.Sum(nil))
	return d, nil
}

func (r *Replicator) serveDigest(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
	v := r.cfg.Meta.View()
	m := memberOf(v, from)
	name := string(req)
	ds := v.Dataset(name)
	if m == nil || ds == nil || !ds.CanRead(m.Name) {
		return json.Marshal(map[string]string{"error": "no such dataset for this peer"})
	}
	d, err := DatasetDigest(r.cfg.Store, ds.EntityType, ds.KeyPrefix, name)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}

// Compare fetches peer p's digest of dataset name and compares it with this
// node's: it returns the buckets that differ (empty when the replicas agree).
func (r *Replicator) Compare(ctx context.Context, p peer.ID, name string) (mine *Digest, differ []int, err error) {
	ds := r.cfg.Meta.View().Dataset(name)
	if ds == nil {
		return nil, nil, fmt.Errorf("dataset %q does not exist", name)
	}
	mine, err = DatasetDigest(r.cfg.Store, ds.EntityType, ds.KeyPrefix, name)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := transport.Request(ctx, r.cfg.Host, p, DigestProtocol, []byte(name), 1<<20)
	if err != nil {
		return nil, nil, err
	}
	var theirs Digest
	if err := json.Unmarshal(b, &theirs); err != nil || theirs.Dataset != name {
		return nil, nil, fmt.Errorf("peer %s gave no digest of %s", p, name)
	}
	for i := range mine.Hex {
		if mine.Hex[i] != theirs.Hex[i] {
			differ = append(differ, i)
		}
	}
	return mine, differ, nil
}
