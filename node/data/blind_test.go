package data_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/node/data"
)

// TestBlindPutStoresWhatAReadingPutStores: a put that reads nothing (no
// Created, ETag or precondition asked, a dataset without counters) is
// applied as a merge operand of its delta; the same random writes, applied
// by an engine whose puts all read the state (WantCreated), must leave the
// same ops (stream heads: their hashes chain every op's bytes) and the same
// entity states, write by write, in batches that write a key several times,
// and after the stores are reopened. The reading engine is the model: it is
// the write path every other test checks.
func TestBlindPutStoresWhatAReadingPutStores(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			blind, reading := newTestEngine(t), newTestEngine(t)
			keys := []string{keyA, keyB}
			for step := range 60 {
				ws := make([]data.Write, 1+rng.IntN(4))
				for i := range ws {
					ws[i] = randomWrite(rng, keys[rng.IntN(len(keys))])
				}
				single := len(ws) == 1 && rng.IntN(2) == 0
				got := applyWrites(blind, ws, false, single)
				want := applyWrites(reading, ws, true, single)
				if got != want {
					t.Fatalf("step %d %s: blind engine answered\n%s\nreading engine\n%s", step, describeWrites(ws), got, want)
				}
				compareStores(t, fmt.Sprintf("step %d %s", step, describeWrites(ws)), blind, reading, keys)
				blind.clock.add(int64(rng.IntN(3)))
				reading.clock.set(blind.clock.now())
			}
			blind.reopen(t)
			reading.reopen(t)
			compareStores(t, "after reopening", blind, reading, keys)
		})
	}
}

// randomWrite is a put (with a random subset of the optional fields), a
// patch or a delete of citizen key in population.identity.
func randomWrite(rng *rand.Rand, key string) data.Write {
	switch rng.IntN(6) {
	case 0:
		return del(idDS, key)
	case 1:
		return patch(idDS, key, fields(`sex`, []string{`"male"`, `"female"`}[rng.IntN(2)]))
	case 2:
		return patch(idDS, key, fields(`phones`, fmt.Sprintf(`{"add":["09%08d"],"remove":["09%08d"]}`, rng.IntN(4), rng.IntN(4))))
	}
	var extra []string
	if rng.IntN(2) == 0 {
		extra = append(extra, `residence_province`, fmt.Sprintf(`"%02d"`, 1+rng.IntN(34)))
	}
	if rng.IntN(2) == 0 {
		extra = append(extra, `ethnicity`, `"Kinh"`)
	}
	if n := rng.IntN(4); n > 0 {
		var phones []string
		for range n {
			phones = append(phones, fmt.Sprintf(`"09%08d"`, rng.IntN(4)))
		}
		extra = append(extra, `phones`, "["+strings.Join(phones, ",")+"]")
	}
	return put(idDS, key, identity(extra...))
}

// applyWrites applies ws (partially: a delete of a missing entity is
// refused, the rest applied) and describes what the engine answered.
func applyWrites(env *testEnv, ws []data.Write, wantCreated, single bool) string {
	ws = append([]data.Write(nil), ws...)
	for i := range ws {
		ws[i].Fields = maps.Clone(ws[i].Fields)
		ws[i].WantCreated = wantCreated
	}
	if single {
		res, err := env.eng.Write(context.Background(), ws[0])
		return fmt.Sprintf("seq %d err %v", res.Seq, err)
	}
	res, rejects, err := env.eng.WriteBatch(context.Background(), ws, true)
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "seq %d %s; ", r.Seq, r.Key)
	}
	for _, r := range rejects {
		fmt.Fprintf(&b, "refused %d: %v; ", r.Index, r.Err)
	}
	fmt.Fprintf(&b, "err %v", err)
	return b.String()
}

func compareStores(t *testing.T, when string, a, b *testEnv, keys []string) {
	t.Helper()
	if ha, hb := marshal(t, heads(t, a)), marshal(t, heads(t, b)); ha != hb {
		t.Fatalf("%s: heads differ:\nblind   %s\nreading %s", when, ha, hb)
	}
	for _, k := range keys {
		sa, err := a.st.Entity(citizen, k)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.st.Entity(citizen, k)
		if err != nil {
			t.Fatal(err)
		}
		if ja, jb := marshal(t, sa), marshal(t, sb); ja != jb {
			t.Fatalf("%s: %s differs:\nblind   %s\nreading %s", when, k, ja, jb)
		}
		ga, gb := entityJSON(t, a, k), entityJSON(t, b, k)
		if ga != gb {
			t.Fatalf("%s: Get %s differs:\nblind   %s\nreading %s", when, k, ga, gb)
		}
	}
}

func heads(t *testing.T, env *testEnv) any {
	t.Helper()
	h, err := env.st.Heads("")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for s, v := range h {
		out[fmt.Sprint(s)] = v
	}
	return out
}

func entityJSON(t *testing.T, env *testEnv, key string) string {
	t.Helper()
	ent, err := env.eng.Get(citizen, key, false)
	if err != nil {
		return "error: " + err.Error()
	}
	b, err := json.Marshal(ent)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func describeWrites(ws []data.Write) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s %s %s", w.Mode, w.Key, marshalFields(w.Fields)))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func marshalFields(f map[string]json.RawMessage) string {
	b, _ := json.Marshal(f)
	return string(b)
}
