// Package fed starts a federation of real lienthong node processes in a
// directory, for the end-to-end tests, the demo and the benchmarks: it
// initialises the nodes, starts the first seed with --bootstrap, admits the
// others through its API and starts them with --join, and hands back each
// node's process, addresses and tokens.
//
// Every node binds port 0 unless its Spec names a port, and the launcher
// learns what it bound from DIR/NAME/addresses.json (node.ReadAddresses);
// it never guesses free ports. After a node's first start its config is
// pinned to those ports, so that a restart is found where it was.
//
// fed runs the binary it is given; it must not import the cli package (which
// imports it, through the demo).
package fed
