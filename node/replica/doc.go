// Package replica replicates op streams between nodes over libp2p.
//
// A node pulls: it sends a peer its version vector for the datasets it may
// read (/lienthong/sync/1.0.0), and the peer answers, for each stream it
// holds further, with the missing ops up to a stream head signed by the
// stream's origin. Any node serves any stream it holds (relay), but only to
// a member that may read its dataset, so a relay can neither forge (the
// origin's signature covers the hash chain) nor leak (the read list is
// checked by whoever sends). A node tells connected peers when it has
// applied new ops (/lienthong/notify/1.0.0), so they pull at once; a timer
// pulls from every connected member anyway (anti-entropy).
//
// Signatures: the origin signs (dataset, origin, seq, hash of op seq) with
// its ed25519 identity key whenever it serves its own stream, so one
// signature covers a whole batch; relays keep the signatures they received
// and serve batches that end where they hold one.
//
// replica imports crdt, storage, node/data, node/meta and transport.
package replica
