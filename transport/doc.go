// Package transport owns the node's libp2p host and what every libp2p
// protocol of lienthong shares: the host constructor (identity, TCP and QUIC,
// Noise and TLS 1.3, yamux, resource limits), the connection gater that admits
// only federation members, and the length-prefixed framing helpers
// (WriteFrame, ReadFrame, Request, Handle) with size caps, deadlines and
// Reset on error.
//
// Each protocol lives in its own subpackage with its protocol ID constant and
// handler (transport/raftlayer carries hashicorp/raft over libp2p streams).
//
// transport must not import any other lienthong package: the node composes
// it, the data plane depends on small interfaces that transport implements,
// and the simulator replaces it with an in-memory network.
package transport
