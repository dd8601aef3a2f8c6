package crdt

// Limits of what one write may store. The owner's write path (node/data)
// refuses anything beyond them with a 400 naming the limit, before anything
// is acknowledged; docs/data-dictionary.md lists them. The decoders accept
// far more (maxCount per list or string, and only what the input holds), so
// that whatever an owner acknowledged, and whatever merges of concurrent
// writes make of it on a replica, decodes everywhere. The first round had
// one cap for both, unchecked on write, and an acknowledged value over it
// became unreadable for ever.
const (
	// MaxValueBytes bounds one register value (its JSON text) and one set
	// element.
	MaxValueBytes = 1 << 20
	// MaxSetElems bounds the elements of one set field of one entity.
	MaxSetElems = 100_000
	// MaxOpBytes bounds one encoded op: everything one write changes.
	MaxOpBytes = 4 << 20
	// MaxStateBytes bounds one entity's encoded state in one dataset.
	MaxStateBytes = 8 << 20
)

// The decoders must accept what the write path lets through, with room
// for merges of concurrent writes (a negative constant does not compile).
const (
	_ uint = maxCount - 8*MaxValueBytes
	_ uint = maxCount - 8*MaxSetElems
)
