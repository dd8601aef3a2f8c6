// Package meta holds the federation's metadata as seen by one node: members,
// the data dictionary (entity types) and datasets, at a metadata index.
//
// A View is an immutable snapshot; every write produces a new View with the
// next index, after the same checks wherever it is applied. View.Authorize
// says who may propose each command (ErrForbidden otherwise). Store is the
// interface the rest of the node uses. Local implements it for a single-node
// federation, persisted in the node's store; the Raft state machine of the
// control plane implements it for a federation of many nodes.
//
// meta imports node/dict and storage, nothing else from lienthong.
package meta
