// Package gen generates deterministic synthetic records — citizens,
// businesses and land parcels — as the JSONL lines that `lienthong import`
// accepts. It feeds `lienthong gen`, the demo, the tests, the benchmarks and
// the simulator's workload.
//
// gen owns the record shapes of the sample datasets (field names, their order
// and the rules their values follow; see the Kinds and the doc comment of
// each kind's generator) and the bytes they serialise to. It must import only
// docs/examples (for the province codes and names) and the standard library:
// no node, storage or transport packages, and no third-party code.
//
// # Determinism
//
// The same kind, seed and province list always give byte-identical output, on
// every platform: all randomness comes from a math/rand/v2 PCG source whose
// algorithm is specified, drawn through this package's own integer helpers
// (never through rand.Rand's methods or floating point, whose results are not
// promised to stay the same across Go releases or architectures).
//
// Changing the generator — a name list, a weight, the order of draws, a field —
// changes what every seed produces. That breaks anything pinned to a seed's
// output (the golden hashes in gen_test.go, recorded benchmarks, simulator
// replays), so such a change is deliberate, updates the golden hashes in the
// same commit and says so in the commit message.
//
// # Keys
//
// Keys are not random draws: record number i of a run is mapped through a
// seeded bijection (a Feistel network with cycle walking) onto the space of
// possible keys, and the key's parts (province, sex, birth year, serial...)
// are decoded from that number. Keys are therefore unique within one run for
// the first KeySpace() records — at least 10^7 for every kind even when one
// province is selected — and repeat after that.
package gen
