package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Readiness is the body of GET /readyz: whether the node can serve what a
// client expects of it, and each check's verdict.
type Readiness struct {
	Ready bool `json:"ready"`
	// Checks name "store", "metadata" and "links"; each is "ok" or says
	// what is wrong.
	Checks map[string]string `json:"checks"`
}

// Ready checks that the store works, that the node has metadata (it has
// applied at least one entry, or kept its last copy), and, in a federation
// of more than this node, that it is connected to at least one other
// member. A node cut off from every peer still serves its last copy; it is
// not ready in the sense that what it serves may be stale.
func (n *Node) Ready() Readiness {
	r := Readiness{Ready: true, Checks: map[string]string{"store": "ok", "metadata": "ok", "links": "ok"}}
	fail := func(check, why string) { r.Ready, r.Checks[check] = false, why }
	if err := n.store.Err(); err != nil {
		fail("store", err.Error())
	}
	v := n.meta.View()
	if v.Index == 0 {
		fail("metadata", "no metadata applied yet: the node has not reached the seeds since it joined")
	}
	if n.fed != nil {
		others, connected := 0, 0
		for _, m := range v.Members() {
			if m.Name == n.cfg.Name {
				continue
			}
			others++
			if id, err := peer.Decode(m.PeerID); err == nil && len(n.fed.host.Network().ConnsToPeer(id)) > 0 {
				connected++
			}
		}
		if others > 0 && connected == 0 {
			fail("links", fmt.Sprintf("connected to none of the %d other members", others))
		}
	}
	return r
}
