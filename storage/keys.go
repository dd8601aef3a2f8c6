package storage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Tables: the first byte of every key. docs/storage.md describes each.
const (
	tableEntity = 'e' // e type 0 key 0 dataset          -> crdt.State
	tableOp     = 'o' // o dataset 0 origin 0 seq(8, BE) -> crdt.Op
	tableHead   = 'v' // v dataset 0 origin              -> Head (version vector entry)
	tableChange = 'c' // c applyseq(8, BE)               -> Change
	tableLocal  = 'l' // l name                          -> node-local value
	tableFloor  = 'f' // f dataset 0 origin              -> floor of the stream's op log (uvarint)
	tableCommit = 'g' // g                               -> commit counter: groups committed (8, BE)
)

const sep = 0

// checkName rejects a key component that would make keys ambiguous.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if strings.IndexByte(s, sep) >= 0 {
		return fmt.Errorf("%w: %s %q contains a NUL byte", ErrInvalid, what, s)
	}
	return nil
}

func appendParts(dst []byte, table byte, parts ...string) []byte {
	dst = append(dst, table)
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, sep)
		}
		dst = append(dst, p...)
	}
	return dst
}

func entityKey(typ, key, dataset string) []byte {
	return appendParts(nil, tableEntity, typ, key, dataset)
}

// entityPrefix is the prefix of every dataset state of one entity.
func entityPrefix(typ, key string) []byte {
	return append(appendParts(nil, tableEntity, typ, key), sep)
}

func opKey(dataset, origin string, seq uint64) []byte {
	k := append(appendParts(nil, tableOp, dataset, origin), sep)
	return binary.BigEndian.AppendUint64(k, seq)
}

func headKey(dataset, origin string) []byte {
	return appendParts(nil, tableHead, dataset, origin)
}

func changeKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tableChange}, seq)
}

func localKey(name string) []byte { return appendParts(nil, tableLocal, name) }

// prefixEnd returns the smallest key after every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
