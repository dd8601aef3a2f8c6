// Package replica replicates op streams between nodes.
//
// A node pulls: it sends a peer its version vector for the datasets it may
// read (transport/pull), and the peer answers, for each stream it holds
// further, with the missing ops up to a stream head signed by the stream's
// origin. Any node serves any stream it holds (relay), but only to a member
// that may read its dataset, so a relay can neither forge (the origin's
// signature covers the hash chain) nor leak (the read list is checked by
// whoever sends). A node tells the readers of what it applied to pull at
// once (notify); a timer pulls from every source anyway (anti-entropy).
//
// History older than the retention is truncated once the readers heard from
// have it; a reader behind the truncation point fetches the dataset's
// snapshot from its owner (transport/snapshot), resumable chunk by chunk.
//
// When to pull, notify, purge and truncate is decided by the pure engine
// (node/replica/engine); the Replicator does the store side (serve, verify,
// apply) and decides nothing; the Driver runs the engine over the
// Replicator and a Runtime. Run is the Driver over libp2p; the simulator
// runs the same Driver over its network and clock.
//
// replica imports crdt, storage, node/data, node/meta, node/dict,
// node/replica/engine and the transport protocol packages; never sim.
package replica
