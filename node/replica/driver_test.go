package replica

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport/pull"
)

// queueRuntime is a Runtime whose requests wait in a queue until the test
// delivers them, in the order it chooses.
type queueRuntime struct {
	sent  []sentRequest
	dials []peer.ID
}

type sentRequest struct {
	id    uint64
	to    peer.ID
	proto string
	req   []byte
}

func (q *queueRuntime) Send(id uint64, p peer.ID, proto string, req []byte, _ int) {
	q.sent = append(q.sent, sentRequest{id, p, proto, req})
}

func (q *queueRuntime) Dial(p peer.ID) { q.dials = append(q.dials, p) }

// take removes the first request on proto from the queue.
func (q *queueRuntime) take(t *testing.T, proto string) sentRequest {
	t.Helper()
	for i, s := range q.sent {
		if s.proto == proto {
			q.sent = append(q.sent[:i], q.sent[i+1:]...)
			return s
		}
	}
	t.Fatalf("no %s request in the queue (%d requests)", proto, len(q.sent))
	return sentRequest{}
}

// TestDriver: the driver pulls when notified and until a round brings
// nothing, while the owner writes between a request and its answer; it
// ignores stale and duplicated answers; a failed pull is retried at the
// next tick.
func TestDriver(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.UnixMilli(1_700_000_000_000)}
	_, hcm, moh := newPair(t, clk, time.Hour)
	hrt, mrt := &queueRuntime{}, &queueRuntime{}
	hd, md := NewDriver(ctx, hcm.r, hrt), NewDriver(ctx, moh.r, mrt)
	by := map[peer.ID]*testNode{hcm.id: hcm, moh.id: moh}
	drv := map[peer.ID]*Driver{hcm.id: hd, moh.id: md}
	// serve delivers request s from node from and returns the answer.
	serve := func(from *testNode, s sentRequest) []byte {
		t.Helper()
		resp, err := by[s.to].r.Handle(ctx, from.id, s.proto, s.req, func(p peer.ID) { drv[s.to].Notified(ctx, p) })
		if err != nil {
			t.Fatalf("%s: %v", s.proto, err)
		}
		return resp
	}

	hcm.write(t, 0, 10, "A")
	hd.Changed(ctx, []string{"population.identity"})
	n := hrt.take(t, pull.NotifyID)
	if n.to != moh.id {
		t.Fatalf("hcm notified %s, want moh", n.to)
	}
	hd.Answer(ctx, n.id, serve(hcm, n), nil) // moh is behind: it pulls
	q := mrt.take(t, pull.ID)
	resp := serve(moh, q)
	hcm.write(t, 10, 15, "B") // between the answer and its arrival
	md.Answer(ctx, q.id, resp, nil)
	if got := moh.head(t, "hcm"); got != 10 {
		t.Fatalf("after the first answer moh is at %d, want 10", got)
	}
	md.Answer(ctx, q.id, resp, nil) // a duplicate: no request waits for it
	q2 := mrt.take(t, pull.ID)      // ops came: it pulls again
	md.Answer(ctx, q2.id, serve(moh, q2), nil)
	q3 := mrt.take(t, pull.ID)
	md.Answer(ctx, q3.id, serve(moh, q3), nil)
	if got := moh.head(t, "hcm"); got != 15 || md.Pending() != 0 || len(mrt.sent) != 0 || md.Applied() != 15 {
		t.Fatalf("moh at %d with %d requests waiting, %d queued, %d applied; want 15, 0, 0, 15",
			got, md.Pending(), len(mrt.sent), md.Applied())
	}

	md.Tick(ctx)
	q = mrt.take(t, pull.ID)
	md.Answer(ctx, q.id, nil, errors.New("stream reset"))
	if md.Pending() != 0 || len(mrt.sent) != 0 {
		t.Fatalf("a failed pull left %d waiting, %d queued", md.Pending(), len(mrt.sent))
	}
	md.Tick(ctx)
	q = mrt.take(t, pull.ID)
	md.Answer(ctx, q.id, serve(moh, q), nil)
	if md.Pending() != 0 {
		t.Fatalf("%d requests waiting after a pull with nothing new", md.Pending())
	}
}
