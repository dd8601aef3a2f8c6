// Package crdt holds lienthong's replicated data types: the hybrid logical
// clock, the ops that change an entity within one dataset, and the per-dataset
// entity state they merge into.
//
// Everything here is pure: no I/O, no wall clock (callers pass the time in),
// no goroutines, no logging. Merge is a join: commutative, associative and
// idempotent, so replicas that receive the same ops in any order, with
// duplicates, reach byte-identical states (see the property tests).
//
// Encodings are deterministic and canonical: Decode accepts only the bytes
// Encode would produce, so the bytes can be hashed and signed.
//
// crdt imports nothing from lienthong.
package crdt
