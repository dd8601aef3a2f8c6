package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/storage"
)

// Two different ops with the same (stream, seq), each covered by the
// origin's signature, prove that the origin misbehaved: the node keeps both
// as evidence, freezes the stream (applies no more of it, from anyone) and
// raises an alarm, until an operator decides.

// Evidence is a fork of a stream: two signed ops at one position.
type Evidence struct {
	Dataset string    `json:"dataset"`
	Origin  string    `json:"origin"`
	Seq     uint64    `json:"seq"`
	Peer    string    `json:"peer"` // who sent the other op
	Ours    []byte    `json:"ours"`
	Theirs  []byte    `json:"theirs"`
	At      time.Time `json:"at"`
}

func frozenKey(st storage.Stream) string { return "frozen/" + st.Dataset + "\x00" + st.Origin }

func evidenceKey(st storage.Stream, seq uint64) string {
	return fmt.Sprintf("evidence/%s\x00%s\x00%020d", st.Dataset, st.Origin, seq)
}

// checkFork compares the ops of a batch that this node already has with its
// own; it returns the evidence of the first that differs, or nil.
func (r *Replicator) checkFork(from peer.ID, st storage.Stream, first, head uint64, ops [][]byte) (*Evidence, error) {
	if first > head {
		return nil, nil
	}
	last := min(head, first+uint64(len(ops))-1)
	var ev *Evidence
	err := r.cfg.Store.OpRange(st.Dataset, st.Origin, first, last, func(seq uint64, enc []byte) bool {
		theirs := ops[seq-first]
		if !bytes.Equal(enc, theirs) {
			ev = &Evidence{Dataset: st.Dataset, Origin: st.Origin, Seq: seq, Peer: from.String(),
				Ours: bytes.Clone(enc), Theirs: bytes.Clone(theirs), At: r.cfg.Now().UTC()}
			return false
		}
		return true
	})
	return ev, err
}

// freeze records the evidence and freezes the stream, in one write.
func (r *Replicator) freeze(ev *Evidence) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	st := storage.Stream{Dataset: ev.Dataset, Origin: ev.Origin}
	r.stats.forks.Inc()
	r.cfg.Logger.Error("ALARM: fork in a stream: two different signed ops at one position; stream frozen",
		"dataset", ev.Dataset, "origin", ev.Origin, "seq", ev.Seq, "peer", ev.Peer)
	return r.cfg.Store.Update(context.Background(), func(tx *storage.Txn) error {
		tx.PutLocal(evidenceKey(st, ev.Seq), b)
		tx.PutLocal(frozenKey(st), []byte(fmt.Sprintf("fork at seq %d reported by %s", ev.Seq, ev.Peer)))
		return nil
	})
}

func (r *Replicator) isFrozen(st storage.Stream) bool {
	_, err := r.cfg.Store.GetLocal(frozenKey(st))
	return err == nil
}

// Alarms lists the frozen streams with the reason, for status.
func (r *Replicator) Alarms() []string {
	var out []string
	r.cfg.Store.ScanLocal("frozen/", func(name string, v []byte) error {
		ds, origin, _ := strings.Cut(strings.TrimPrefix(name, "frozen/"), "\x00")
		out = append(out, fmt.Sprintf("stream %s/%s frozen: %s", ds, origin, v))
		return nil
	})
	return out
}
