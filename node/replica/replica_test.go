package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/pull"
)

// victim is a reader of population.identity (owned by "hcm") that pulls from
// an admitted but malicious member, "evil", whose answers the test writes.
type victim struct {
	r        *Replicator
	st       *storage.Store
	evil     host.Host
	evilKey  crypto.PrivKey
	ownerKey crypto.PrivKey
	answer   []byte
}

func newHost(t *testing.T) (host.Host, crypto.PrivKey, *transport.Gater) {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	g := transport.NewGater(nil)
	h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, key, g
}

func newVictim(t *testing.T) *victim {
	t.Helper()
	ctx := context.Background()
	vh, vkey, vg := newHost(t)
	eh, ekey, eg := newHost(t)
	okey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	oid, _ := peer.IDFromPrivateKey(okey)
	vg.SetAdmitted([]peer.ID{eh.ID()})
	eg.SetAdmitted([]peer.ID{vh.ID()})
	vh.Peerstore().AddAddrs(eh.ID(), eh.Addrs(), peerstore.PermanentAddrTTL)
	st, err := storage.Open(storage.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := meta.OpenLocal(ctx, st, meta.Member{Name: "moh", Role: "member", PeerID: vh.ID().String()})
	if err != nil {
		t.Fatal(err)
	}
	m.PutMember(ctx, meta.Member{Name: "evil", Role: "member", PeerID: eh.ID().String()})
	m.PutMember(ctx, meta.Member{Name: "hcm", Role: "member", PeerID: oid.String()})
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if ty.Name == "citizen" {
			m.PutType(ctx, ty)
		}
	}
	ds, _ := dict.ParseDataset([]byte(`{"name":"population.identity","entity_type":"citizen","fields":["full_name"],"owner":"hcm","readers":["moh","evil"]}`))
	if _, err := m.PutDataset(ctx, ds); err != nil {
		t.Fatal(err)
	}
	eng, err := data.New(data.Config{Self: "moh", Store: st, Meta: m, NowMillis: func() int64 { return 1_700_000_000_000 }})
	if err != nil {
		t.Fatal(err)
	}
	v := &victim{st: st, evil: eh, evilKey: ekey, ownerKey: okey}
	v.r = New(Config{Self: "moh", Key: vkey, Network: P2P{Host: vh}, Store: st, Meta: m, Engine: eng, Registerer: prometheus.NewRegistry()})
	transport.Handle(eh, pull.ID, pull.MaxRequestBytes, 0, func(context.Context, peer.ID, []byte) ([]byte, error) {
		return v.answer, nil
	})
	return v
}

// ops returns n ops of stream (population.identity, origin) from seq 1,
// hash-chained, and their encodings.
func ops(origin string, n int, epoch uint64) ([]*crdt.Op, [][]byte) {
	var prev [32]byte
	var out []*crdt.Op
	var encs [][]byte
	for i := 1; i <= n; i++ {
		op := &crdt.Op{Dataset: "population.identity", Origin: origin, Seq: uint64(i), Prev: prev, Epoch: epoch,
			Time: crdt.Timestamp{WallMillis: 1_700_000_000_000 + int64(i)}, Type: "citizen", Key: fmt.Sprintf("0790900%05d", i),
			Fields: []crdt.FieldOp{{Name: "full_name", Kind: crdt.Register, Value: []byte(`"A"`)}}}
		enc := crdt.AppendOp(nil, op)
		prev = pull.HashOp(enc)
		out, encs = append(out, op), append(encs, enc)
	}
	return out, encs
}

func signed(t *testing.T, key crypto.PrivKey, origin string, encs [][]byte, seq uint64) pull.Batch {
	t.Helper()
	h := pull.SignedHead{Dataset: "population.identity", Origin: origin, Seq: seq, Hash: pull.HashOp(encs[len(encs)-1])}
	if err := h.Sign(key); err != nil {
		t.Fatal(err)
	}
	return pull.Batch{Head: h, Ops: encs}
}

// answer encodes a sync answer of the batches.
func answer(bs ...pull.Batch) []byte { return pull.EncodeResponse(pull.Response{Batches: bs}) }

func TestMaliciousPeer(t *testing.T) {
	_, good := ops("hcm", 5, 1)
	tests := []struct {
		name   string
		answer func(v *victim) []byte
		reason string // rejection reason counted, "" for an error before decoding
	}{
		{"bad signature", func(v *victim) []byte {
			return answer(signed(t, v.evilKey, "hcm", good, 5)) // signed by evil, claims hcm
		}, "signature"},
		{"op for a dataset the origin does not own", func(v *victim) []byte {
			_, encs := ops("evil", 3, 1)
			return answer(signed(t, v.evilKey, "evil", encs, 3))
		}, data.RejectNotOwner},
		{"gap", func(v *victim) []byte {
			return answer(signed(t, v.ownerKey, "hcm", good[2:], 5))
		}, "gap"},
		{"fork: the chain is broken", func(v *victim) []byte {
			forged := bytes.Clone(good[3])
			forged[len(forged)-2] ^= 1 // change the value of op 4
			encs := [][]byte{good[0], good[1], good[2], forged, good[4]}
			return answer(signed(t, v.ownerKey, "hcm", encs, 5))
		}, "chain"},
		{"zstd bomb", func(v *victim) []byte {
			enc, _ := zstd.NewWriter(nil)
			return enc.EncodeAll(make([]byte, 200<<20), nil)
		}, "malformed"},
		{"oversized frame", func(v *victim) []byte { return make([]byte, pull.MaxResponseBytes+1) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVictim(t)
			v.answer = tt.answer(v)
			n, _, err := v.r.PullOnce(context.Background(), v.evil.ID())
			if n != 0 {
				t.Fatalf("applied %d ops from a malicious answer", n)
			}
			if tt.reason != "" {
				if got := testutil.ToFloat64(v.r.stats.rejected.WithLabelValues(tt.reason)); got != 1 {
					t.Fatalf("rejections for %q: %v (err %v)", tt.reason, got, err)
				}
			} else if !errors.Is(err, transport.ErrFrameTooLarge) {
				t.Fatalf("got %v, want ErrFrameTooLarge", err)
			}
			if heads, _ := v.st.Heads(""); len(heads) != 0 {
				t.Fatalf("a rejected answer changed the store: %v", heads)
			}
		})
	}
	t.Run("replay is harmless and quarantine holds", func(t *testing.T) {
		v := newVictim(t)
		v.answer = answer(signed(t, v.ownerKey, "hcm", good, 5))
		if n, _, err := v.r.PullOnce(context.Background(), v.evil.ID()); n != 5 || err != nil {
			t.Fatalf("an honest relay of 5 ops: %d %v", n, err)
		}
		if n, _, err := v.r.PullOnce(context.Background(), v.evil.ID()); n != 0 || err != nil {
			t.Fatalf("replay: applied %d, %v", n, err)
		}
		// A bad batch quarantines the stream from that peer.
		v.answer = answer(signed(t, v.evilKey, "hcm", good, 5))
		v.r.PullOnce(context.Background(), v.evil.ID())
		if q := v.r.Quarantined(); len(q) != 1 || q[0].Reason != "signature" {
			t.Fatalf("quarantine: %+v", q)
		}
	})
}

func TestForkFreezesStream(t *testing.T) {
	v := newVictim(t)
	ctx := context.Background()
	_, good := ops("hcm", 5, 1)
	v.answer = answer(signed(t, v.ownerKey, "hcm", good, 5))
	if n, _, err := v.r.PullOnce(ctx, v.evil.ID()); n != 5 || err != nil {
		t.Fatalf("honest batch: %d %v", n, err)
	}
	// The origin signs a second history that differs from op 3 on.
	forked, _ := ops("hcm", 5, 1)
	prev := pull.HashOp(good[1])
	var encs [][]byte
	for i, op := range forked[2:] {
		op.Prev = prev
		if i == 0 {
			op.Fields[0].Value = []byte(`"B"`)
		}
		enc := crdt.AppendOp(nil, op)
		prev = pull.HashOp(enc)
		encs = append(encs, enc)
	}
	v.answer = answer(signed(t, v.ownerKey, "hcm", encs, 5))
	if _, _, err := v.r.PullOnce(ctx, v.evil.ID()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(v.r.stats.forks); got != 1 {
		t.Fatalf("forks counted: %v", got)
	}
	if a := v.r.Alarms(); len(a) != 1 || !strings.Contains(a[0], "fork at seq 3") {
		t.Fatalf("alarms: %v", a)
	}
	st := storage.Stream{Dataset: "population.identity", Origin: "hcm"}
	if _, err := v.st.GetLocal(evidenceKey(st, 3)); err != nil {
		t.Fatalf("no evidence kept: %v", err)
	}
	// The frozen stream takes nothing more, even honest ops.
	_, moreEncs := ops("hcm", 6, 1)
	v.answer = answer(signed(t, v.ownerKey, "hcm", moreEncs, 6))
	if n, _, _ := v.r.PullOnce(ctx, v.evil.ID()); n != 0 {
		t.Fatalf("a frozen stream applied %d ops", n)
	}
	if heads, _ := v.st.Heads(""); heads[st].Seq != 5 {
		t.Fatalf("head moved to %d", heads[st].Seq)
	}
}
