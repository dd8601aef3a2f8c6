package data_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
)

// TestApplyRemoteSchemaVersion: an op is held to the version of its type
// that was current when its origin validated it, not to a later one.
func TestApplyRemoteSchemaVersion(t *testing.T) {
	env := newTestEngine(t)
	ctx := context.Background()
	v := env.meta.View()
	since := v.Type("citizen").Since
	if since < 2 {
		t.Fatalf("citizen type current since %d", since)
	}
	op := func(seq uint64, prev [32]byte, metaIndex uint64) *crdt.Op {
		return &crdt.Op{Dataset: "population.identity", Origin: self, Seq: seq, Prev: prev, Epoch: 1, MetaIndex: metaIndex,
			Time: crdt.Timestamp{WallMillis: 1_750_000_000_000}, Type: "citizen", Key: "079090000001",
			Fields: []crdt.FieldOp{{Name: "sex", Kind: crdt.Register, Value: []byte(`"x"`)}}}
	}
	// "x" is not a sex today; validated before the type's current version, it passes.
	old := op(1, [32]byte{}, since-1)
	if err := env.eng.ApplyRemote(ctx, []*crdt.Op{old}, nil); err != nil {
		t.Fatalf("op validated at an earlier version: %v", err)
	}
	cur := op(2, sha256.Sum256(crdt.AppendOp(nil, old)), v.Index)
	var re *data.RemoteError
	if err := env.eng.ApplyRemote(ctx, []*crdt.Op{cur}, nil); !errors.As(err, &re) || re.Reason != data.RejectSchema {
		t.Fatalf("op validated at the current version: %v, want a schema rejection", err)
	}
	ahead := op(2, sha256.Sum256(crdt.AppendOp(nil, old)), v.Index+5)
	if err := env.eng.ApplyRemote(ctx, []*crdt.Op{ahead}, nil); !errors.As(err, &re) || re.Reason != data.MetadataAhead {
		t.Fatalf("op from ahead of this node's metadata: %v, want metadata_ahead", err)
	}
}
