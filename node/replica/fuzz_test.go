package replica

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport/digest"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// FuzzHandle: whatever a member sends on the sync, notify, snapshot and
// digest protocols, the replicator answers or errs, and never panics.
func FuzzHandle(f *testing.F) {
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(f, clk, time.Hour)
	hcm.write(f, 0, 20, "A")
	protos := []string{pull.ID, pull.NotifyID, snapshot.ID, digest.ID}
	for i, s := range []string{
		`{"datasets":["population.identity"],"have":[{"dataset":"population.identity","origin":"hcm","seq":3}]}`,
		`[{"dataset":"population.identity","origin":"hcm","seq":99}]`,
		`{"dataset":"population.identity","after":"","heads":null}`,
		`population.identity`,
		`{"datasets":["population.identity","population.identity"],"have":[{"seq":18446744073709551615}]}`, `[]`, `{`, ``,
	} {
		f.Add(uint8(i%len(protos)), []byte(s))
		f.Add(uint8((i+1)%len(protos)), []byte(s))
	}
	f.Fuzz(func(t *testing.T, proto uint8, req []byte) {
		hcm.r.Handle(context.Background(), moh.id, protos[int(proto)%len(protos)], req, func(peer.ID) {})
	})
}

// FuzzApplyResponse: whatever a peer answers to a pull (the decoder is
// fuzzed by transport/pull; this is what the reader then does with it),
// the reader applies it or refuses it, and never panics.
func FuzzApplyResponse(f *testing.F) {
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(f, clk, time.Hour)
	hcm.write(f, 0, 5, "A")
	resp, err := hcm.r.Handle(context.Background(), moh.id, pull.ID,
		[]byte(`{"datasets":["population.identity"],"have":[]}`), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(resp)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		moh.r.ApplyResponse(context.Background(), hcm.id, b)
	})
}
