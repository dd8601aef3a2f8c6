// Package node is the composition root of a lienthong node: New wires the
// store, the metadata, the data plane and the HTTP API from a Config, and Run
// serves until its context ends. Nothing else constructs subsystems.
//
// It also owns a node directory's files: the configuration (lienthong.yaml),
// the identity key and the local admin token, created by Init.
package node
