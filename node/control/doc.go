// Package control is the federation's control plane on one node: the Raft
// group that replicates metadata (seeds vote, every other member follows as a
// non-voter), its state machine over meta.View, proposals forwarded to the
// leader over libp2p, and the leader's upkeep of the Raft configuration from
// the member list.
//
// Control implements meta.Store, so the rest of the node reads metadata from
// the last applied view and writes it with Propose, whoever is leader.
//
// control imports node/meta and transport; it does not construct the libp2p
// host or the stores it is given.
package control
