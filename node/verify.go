package node

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
)

// VerifyResult compares one dataset between this node and a peer.
type VerifyResult struct {
	Dataset  string `json:"dataset"`
	Peer     string `json:"peer"`
	Entities int    `json:"entities"` // on this node
	// Differ lists the key ranges (digest buckets 0-255: the first byte of
	// SHA-256(key)) whose states differ; empty when the replicas agree.
	Differ []int  `json:"differ"`
	Error  string `json:"error,omitempty"`
}

// Verify compares, for every dataset both this node and a peer may read,
// the state digests of the two replicas. peerName "" means every connected
// member; dataset "" every dataset.
func (n *Node) Verify(ctx context.Context, peerName, dataset string) ([]VerifyResult, error) {
	if n.fed == nil || n.fed.replica == nil {
		return nil, fmt.Errorf("%w: a single-node federation has no peer to compare with", data.ErrInvalid)
	}
	v := n.meta.View()
	var peers []*meta.Member
	for _, m := range v.Members() {
		if m.Name == n.cfg.Name || peerName != "" && m.Name != peerName {
			continue
		}
		peers = append(peers, m)
	}
	if peerName != "" && len(peers) == 0 {
		return nil, fmt.Errorf("%w: %q is not a member", meta.ErrNotFound, peerName)
	}
	var out []VerifyResult
	for _, m := range peers {
		id, err := peer.Decode(m.PeerID)
		if err != nil {
			continue
		}
		if peerName == "" && n.fed.host.Network().Connectedness(id) != network.Connected {
			continue
		}
		for _, ds := range v.Datasets() {
			if dataset != "" && ds.Name != dataset || !ds.CanRead(n.cfg.Name) || !ds.CanRead(m.Name) {
				continue
			}
			res := VerifyResult{Dataset: ds.Name, Peer: m.Name, Differ: []int{}}
			mine, differ, err := n.fed.replica.Compare(ctx, id, ds.Name)
			if err != nil {
				res.Error = err.Error()
			} else {
				res.Entities, res.Differ = mine.Entities, differ
			}
			out = append(out, res)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dataset != out[j].Dataset {
			return out[i].Dataset < out[j].Dataset
		}
		return out[i].Peer < out[j].Peer
	})
	if len(out) == 0 {
		return nil, errors.New("no dataset that this node and a connected peer both read")
	}
	return out, nil
}
