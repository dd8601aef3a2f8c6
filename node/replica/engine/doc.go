// Package engine is the replication scheduler as a pure state machine, in
// the shape of etcd-io/raft's RawNode: it decides which member to pull from
// and when, when to fetch a snapshot chunk, whom to notify of new ops, when
// to back off, purge and truncate. Inputs are Step(Message) and Tick (one
// anti-entropy interval); outputs are a Ready the driver executes, then
// Advance.
//
// It has no goroutines, sockets, clock or store: members are names, time is
// the tick count, and everything it knows of the store arrives in messages.
// It imports only the standard library's pure packages (deps_test.go checks
// this); never net, libp2p, pebble, storage or time.
package engine
