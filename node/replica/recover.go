package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/storage"
)

// Recover fetches this node's own ops back from the members that may hold
// them (the readers and past owners of the datasets it owns), so that an
// owner whose store is behind what it once acknowledged (a new disk, a
// restored backup) continues its streams instead of writing again at
// sequence numbers its readers hold, which they would take for a fork. The
// driver holds the owner's writes until it returns (data.Engine.HoldWrites).
//
// It returns how many of its own ops it got back and how many members it
// reached; with none reached the node cannot know whether it is behind.
func (r *Replicator) Recover(ctx context.Context) (recovered, reached int, err error) {
	v := r.cfg.Meta.View()
	var holders []string
	for _, ds := range v.Datasets() {
		if ds.Owner != r.cfg.Self {
			continue
		}
		for _, name := range append(readersOf(ds), ds.PastOwners...) {
			if name != r.cfg.Self && !slices.Contains(holders, name) {
				holders = append(holders, name)
			}
		}
	}
	slices.Sort(holders)
	before, err := r.ownHeads()
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, name := range holders {
		m := v.Member(name)
		if m == nil {
			continue
		}
		id, err := peer.Decode(m.PeerID)
		if err != nil || !r.cfg.Network.Connected(id) {
			continue
		}
		if _, err := r.Pull(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("recover own ops from %s: %w", name, err))
			continue
		}
		reached++
	}
	after, err := r.ownHeads()
	if err != nil {
		return 0, reached, err
	}
	for st, seq := range after {
		recovered += int(seq - before[st])
	}
	return recovered, reached, errors.Join(errs...)
}

// ownHeads returns the head of each of this node's own streams.
func (r *Replicator) ownHeads() (map[storage.Stream]uint64, error) {
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return nil, err
	}
	out := map[storage.Stream]uint64{}
	for st, h := range heads {
		if st.Origin == r.cfg.Self {
			out[st] = h.Seq
		}
	}
	return out, nil
}
