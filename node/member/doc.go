// Package member owns gossip-based liveness and address discovery: every
// lienthong node runs one List, a thin wrapper over hashicorp/memberlist
// (SWIM), that tells it which other nodes are alive, suspect, dead or have
// left, and where to dial them (their libp2p peer ID and multiaddrs, carried
// in a small piggy-backed Meta together with the metadata index each node has
// applied).
//
// Membership here is about liveness only. Who is *admitted* to the federation
// is decided by the Raft metadata, not by gossip: a node that appears in a
// List is not thereby trusted, and callers must check its peer ID against the
// metadata before using it. Gossip is encrypted with a shared AES key
// (Config.Keys) that comes with the federation and can be rotated at run time
// (List.SetKeys).
//
// memberlist does not report suspect nodes through its delegates, and the
// state in the *Node it hands to its event delegate is always "alive" (the
// field is shadowed in v0.7.0). List therefore reads memberlist's own node
// table (see introspect.go) to report the real state and the time it began.
//
// This package imports nothing from lienthong, so it can be tested and reused
// on its own.
package member
