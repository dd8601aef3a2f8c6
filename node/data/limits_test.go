package data_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
)

// newBlobEngine is newTestEngine with one more type and dataset, "blob":
// string fields s1..s9 and a set without max_items, and a counter.
func newBlobEngine(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEngine(t)
	fields := `"n":{"type":"counter"},"tags":{"type":"set"}`
	names := `"n","tags"`
	for i := 1; i <= 9; i++ {
		fields += fmt.Sprintf(`,"s%d":{"type":"string"}`, i)
		names += fmt.Sprintf(`,"s%d"`, i)
	}
	typ, err := dict.ParseEntityType([]byte(`{"name":"blob","version":1,"key":{"pattern":"^b[0-9]+$"},"fields":{` + fields + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := env.meta.PutType(ctx, typ); err != nil {
		t.Fatal(err)
	}
	ds, err := dict.ParseDataset([]byte(`{"name":"blobs","entity_type":"blob","fields":[` + names + `],"owner":"` + self + `","owner_epoch":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.meta.PutDataset(ctx, ds); err != nil {
		t.Fatal(err)
	}
	return env
}

// str is a JSON string of exactly n bytes.
func str(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }

// wantRule checks that err is a refusal by rule.
func wantRule(t *testing.T, err error, rule string) {
	t.Helper()
	var de *dict.Error
	if !errors.Is(err, data.ErrInvalid) || !errors.As(err, &de) || de.Rule != rule {
		t.Fatalf("got %v, want ErrInvalid by rule %s", err, rule)
	}
	if !strings.Contains(err.Error(), rule) {
		t.Fatalf("%v: the message does not name the limit %s", err, rule)
	}
}

// TestLimitsAtAndAround: each limit of the write path lets through a write
// at it, which reads back after a restart, and refuses one just over it
// with the limit's rule, changing nothing.
func TestLimitsAtAndAround(t *testing.T) {
	env := newBlobEngine(t)
	ctx := context.Background()
	e := env.eng
	write := func(mode data.Mode, key string, kv ...string) error {
		_, err := e.Write(ctx, data.Write{Dataset: "blobs", Key: key, Mode: mode, Fields: fields(kv...)})
		return err
	}

	// One value: at the limit, and one byte over.
	if err := write(data.Put, "b1", "s1", str(crdt.MaxValueBytes)); err != nil {
		t.Fatalf("a value of exactly max_value_bytes: %v", err)
	}
	wantRule(t, write(data.Patch, "b1", "s1", str(crdt.MaxValueBytes+1)), dict.RuleMaxValueBytes)
	wantRule(t, write(data.Patch, "b1", "tags", `{"add":[`+str(crdt.MaxValueBytes+3)+`]}`), dict.RuleMaxValueBytes)

	// One op: four values at the limit are a little over max_op_bytes.
	kv := []string{}
	for i := 1; i <= 4; i++ {
		kv = append(kv, fmt.Sprintf("s%d", i), str(crdt.MaxValueBytes))
	}
	wantRule(t, write(data.Put, "b2", kv...), dict.RuleMaxOpBytes)
	if err := write(data.Put, "b2", kv[:6]...); err != nil {
		t.Fatalf("three values at the limit in one write: %v", err)
	}

	// One state: patches of three values each fill it past max_state_bytes
	// although each op is under max_op_bytes.
	if err := write(data.Patch, "b2", "s4", str(crdt.MaxValueBytes), "s5", str(crdt.MaxValueBytes), "s6", str(crdt.MaxValueBytes)); err != nil {
		t.Fatalf("six values at the limit in one entity: %v", err)
	}
	wantRule(t, write(data.Patch, "b2", "s7", str(crdt.MaxValueBytes), "s8", str(crdt.MaxValueBytes), "s9", str(crdt.MaxValueBytes)), dict.RuleMaxStateBytes)

	// One set: at the limit, and one element over.
	elems := make([]string, crdt.MaxSetElems)
	for i := range elems {
		elems[i] = fmt.Sprintf("e%06d", i)
	}
	all, _ := json.Marshal(elems)
	if err := write(data.Put, "b3", "tags", string(all)); err != nil {
		t.Fatalf("a set of exactly max_set_elements: %v", err)
	}
	wantRule(t, write(data.Patch, "b3", "tags", `{"add":["one more"]}`), dict.RuleMaxSetElems)
	if err := write(data.Patch, "b3", "tags", `{"remove":["e000000"]}`); err != nil {
		t.Fatalf("a remove from a full set: %v", err)
	}

	// Everything acknowledged reads back, also after a restart.
	env.reopen(t)
	for _, c := range []struct {
		key, field string
		size       int
	}{{"b1", "s1", crdt.MaxValueBytes}, {"b2", "s3", crdt.MaxValueBytes}, {"b2", "s6", crdt.MaxValueBytes}, {"b2", "s7", 0}} {
		ent := mustGet(t, env.eng, "blob", c.key)
		if got := len(ent.Fields[c.field]); got != c.size {
			t.Errorf("%s.%s reads %d bytes, want %d", c.key, c.field, got, c.size)
		}
	}
	var tags []string
	if err := json.Unmarshal(mustGet(t, env.eng, "blob", "b3").Fields["tags"], &tags); err != nil || len(tags) != crdt.MaxSetElems-1 {
		t.Errorf("b3.tags has %d elements (%v), want %d", len(tags), err, crdt.MaxSetElems-1)
	}
	if _, err := env.eng.Changes(0, 100); err != nil {
		t.Errorf("the change feed does not read: %v", err)
	}
}

// TestCounterRange: a counter stays a 64-bit integer; a change past the
// ends is refused, not wrapped (2^63-1 + 1 read back as -2^63).
func TestCounterRange(t *testing.T) {
	env := newBlobEngine(t)
	ctx := context.Background()
	write := func(mode data.Mode, v string) error {
		_, err := env.eng.Write(ctx, data.Write{Dataset: "blobs", Key: "b1", Mode: mode, Fields: fields("n", v)})
		return err
	}
	read := func() string { return string(mustGet(t, env.eng, "blob", "b1").Fields["n"]) }
	max, min := fmt.Sprint(int64(math.MaxInt64)), fmt.Sprint(int64(math.MinInt64))
	if err := write(data.Put, max); err != nil || read() != max {
		t.Fatalf("put 2^63-1: %v, reads %s", err, read())
	}
	wantRule(t, write(data.Patch, `{"increment":1}`), dict.RuleCounterRange)
	if err := write(data.Patch, `{"increment":-1}`); err != nil || read() != fmt.Sprint(int64(math.MaxInt64-1)) {
		t.Fatalf("decrement from the top: %v, reads %s", err, read())
	}
	// From one end to the other is a change of nearly 2^64, which this
	// node's running total of decrements holds once; its running total of
	// increments, already 2^63-1, cannot take it back.
	if err := write(data.Put, min); err != nil || read() != min {
		t.Fatalf("put -2^63: %v, reads %s", err, read())
	}
	wantRule(t, write(data.Patch, `{"increment":-1}`), dict.RuleCounterRange)
	wantRule(t, write(data.Put, max), dict.RuleCounterRange)
	if read() != min {
		t.Fatalf("a refused write changed the counter: %s", read())
	}
}
