// Package sim runs a whole federation in one process under a scenario's
// partitions, crashes and clock faults, in simulated time and
// deterministically by seed, and checks the invariants the design promises
// (docs/simulator.md).
//
// Each node is the real store (Pebble on a crashable in-memory file
// system), data engine and replicator; the simulator is the replicator's
// driver, with a simulated network and clock and a model of the control
// plane. One goroutine runs the events; the same scenario and seed give the
// same trace hash and final digests.
//
// sim imports the node's packages; nothing imports sim but the CLI.
package sim
