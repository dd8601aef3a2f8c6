package member

import (
	"encoding/json"
	"fmt"
)

// Meta is the small summary each node piggy-backs on gossip. It travels in
// every alive message, so it must stay well under MaxMetaBytes once encoded
// as JSON; encodeMeta trims Addrs when it does not.
type Meta struct {
	Role      string   `json:"role"`       // "seed" or "member"
	PeerID    string   `json:"peer_id"`    // libp2p peer ID
	Addrs     []string `json:"addrs"`      // libp2p multiaddrs to dial, most preferred first
	MetaIndex uint64   `json:"meta_index"` // Raft metadata index this node has applied
	APIAddr   string   `json:"api,omitempty"`
}

// MaxMetaBytes is the largest encoded Meta memberlist accepts
// (memberlist.MetaMaxSize).
const MaxMetaBytes = 512

// clone returns a deep copy of m, so the caller owns its Addrs.
func (m Meta) clone() Meta {
	if m.Addrs != nil {
		m.Addrs = append([]string(nil), m.Addrs...)
	}
	return m
}

// encodeMeta encodes m as compact JSON of at most limit bytes. When the full
// encoding is too large it drops Addrs from the end, keeping as many as fit
// and at least one, and reports how many it dropped. It fails with
// ErrMetaTooLarge when even one address (or none, if m has none) does not fit.
func encodeMeta(m Meta, limit int) (b []byte, dropped int, err error) {
	b, err = json.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("member: encode meta: %w", err)
	}
	if len(b) <= limit {
		return b, 0, nil
	}
	// Find the largest prefix of Addrs that fits, from the longest down: the
	// list is short (a handful of multiaddrs), so a linear scan is fine.
	all := m.Addrs
	for n := len(all) - 1; n >= 1; n-- {
		m.Addrs = all[:n]
		b, err = json.Marshal(m)
		if err != nil {
			return nil, 0, fmt.Errorf("member: encode meta: %w", err)
		}
		if len(b) <= limit {
			return b, len(all) - n, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: %d bytes with %d of %d addresses, limit %d; shorten the peer ID, API address or first multiaddr",
		ErrMetaTooLarge, len(b), min(len(all), 1), len(all), limit)
}

// decodeMeta decodes a Meta received from the network. Empty input (a node
// that gossips no meta) decodes to the zero Meta.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("member: decode meta: %w", err)
	}
	return m, nil
}
