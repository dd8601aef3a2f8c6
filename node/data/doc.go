// Package data is a node's data plane on top of storage: the local write
// path (check against metadata and schema, stamp with the HLC, the owner
// epoch and the metadata index, chain into the node's stream, apply, all in
// one batch), merged reads of entities across datasets, and the change feed.
//
// data imports crdt, storage, node/dict and node/meta; nothing here knows
// about HTTP, libp2p or wall time (the clock is passed in).
package data
