package meta_test

import (
	"encoding/json"
	"testing"

	"github.com/lienthong/lienthong/node/meta"
)

// FuzzDecodeView: a metadata snapshot (the Raft snapshot, a backup being
// restored) never panics the decoder; what decodes encodes and decodes
// again to the same view.
func FuzzDecodeView(f *testing.F) {
	good, err := json.Marshal(authorityView(&testing.T{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, s := range []string{`{}`, `{"members":[null]}`, `{"types":[null]}`, `{"datasets":[null]}`,
		`{"members":[{"name":"a","role":"seed","peer_id":"x"}],"datasets":[{"name":"d"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := meta.DecodeView(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("decoded view does not encode: %v", err)
		}
		w, err := meta.DecodeView(again)
		if err != nil {
			t.Fatalf("re-encoded view does not decode: %v\n%s", err, again)
		}
		if third, _ := json.Marshal(w); string(third) != string(again) {
			t.Fatalf("view changed in a round trip:\n%s\n%s", again, third)
		}
	})
}

// FuzzApplyCommand: a log entry (a proposal from any member, replayed or
// forged) never panics the state machine's apply, and a refused command
// leaves the view as it was.
func FuzzApplyCommand(f *testing.F) {
	for _, s := range []string{
		`{"op":"grant","name":"land.79","reader":"ndc","by":"H"}`,
		`{"op":"transfer","name":"land.79","to":"moh","by":"S"}`,
		`{"op":"put_member","member":{"name":"evil","role":"seed","peer_id":"E"},"by":"M"}`,
		`{"op":"put_member","by":"S"}`, `{"op":"put_type","by":"S"}`, `{"op":"put_dataset","by":"S"}`,
		`{"op":"restore","by":"S"}`, `{"op":"member_addrs","name":"moh","by":"M"}`, `{"op":"gossip_keys","by":"S"}`,
	} {
		f.Add([]byte(s))
	}
	base := authorityView(&testing.T{})
	before, _ := json.Marshal(base)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c meta.Command
		if json.Unmarshal(b, &c) != nil {
			return
		}
		next, err := base.ApplyAuthorized(base.Index+1, c)
		if now, _ := json.Marshal(base); string(now) != string(before) {
			t.Fatalf("applying %s changed the view it applied to", b)
		}
		if err == nil && next == nil {
			t.Fatalf("applying %s: no view and no error", b)
		}
	})
}
