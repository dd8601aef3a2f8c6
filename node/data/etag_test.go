package data_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
)

// tagged is w asking for the ETag after it.
func tagged(w data.Write) data.Write {
	w.WantETag = true
	return w
}

// TestETag: an entity's ETag is the same from Get and from the write that
// made it, stays while nothing changes, and changes with every write to any
// of its datasets, local or replicated.
func TestETag(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	seen := map[string]string{}
	step := func(what string, res data.Result) {
		t.Helper()
		got := mustGet(t, e, citizen, keyA).ETag
		if res.ETag != got {
			t.Fatalf("%s: the write answered ETag %q, Get %q", what, res.ETag, got)
		}
		if again := mustGet(t, e, citizen, keyA).ETag; again != got {
			t.Fatalf("%s: ETag moved from %q to %q with no write", what, got, again)
		}
		if prev, ok := seen[got]; ok {
			t.Fatalf("%s: ETag %q is that of %s", what, got, prev)
		}
		seen[got] = what
	}
	step("put", mustWrite(t, e, tagged(put(idDS, keyA, identity()))))
	step("patch", mustWrite(t, e, tagged(patch(idDS, keyA, fields(`sex`, `"female"`)))))
	step("same patch again", mustWrite(t, e, tagged(patch(idDS, keyA, fields(`sex`, `"female"`)))))
	step("put in another dataset", mustWrite(t, e, tagged(put(insDS, keyA, insurance()))))
	step("counter", mustWrite(t, e, tagged(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`)))))
	res := mustWrite(t, e, tagged(del(insDS, keyA)))
	step("delete in one dataset", res)
	if res.ETag == "" {
		t.Fatal("the entity still exists in population.identity, but its ETag is empty")
	}
	if res := mustWrite(t, e, tagged(del(idDS, keyA))); res.ETag != "" {
		t.Fatalf("deleted everywhere: ETag %q, want none", res.ETag)
	}
	if res := mustWrite(t, e, put(idDS, keyB, identity())); res.ETag != "" {
		t.Fatalf("a write that did not ask for its ETag answered %q", res.ETag)
	}
}

// TestETagAfterReplicatedOp: an op applied as a merge operand (the
// replication path) changes the ETag, and the committer computes the same
// ETag as Get from the merged state, so a conditional write on it succeeds.
func TestETagAfterReplicatedOp(t *testing.T) {
	env := newTestEngine(t)
	ctx := context.Background()
	before := mustWrite(t, env.eng, tagged(put(insDS, keyA, insurance()))).ETag
	op := &crdt.Op{Dataset: idDS, Origin: self, Seq: 1, Epoch: 1, MetaIndex: env.meta.View().Index,
		Time: crdt.Timestamp{WallMillis: env.clock.now()}, Type: citizen, Key: keyA, Replace: true,
		Fields: []crdt.FieldOp{{Name: "full_name", Kind: crdt.Register, Value: []byte(`"Lê Văn C"`)}}}
	if err := env.eng.ApplyRemote(ctx, []*crdt.Op{op}, nil); err != nil {
		t.Fatal(err)
	}
	tag := mustGet(t, env.eng, citizen, keyA).ETag
	if tag == before {
		t.Fatalf("a replicated op left the ETag at %q", tag)
	}
	w := patch(insDS, keyA, fields(`clinic_visits`, `3`))
	w.IfMatch = []string{tag}
	if _, err := env.eng.Write(ctx, w); err != nil {
		t.Fatalf("write conditional on the ETag Get gave after a replicated op: %v", err)
	}
}

func TestConditionalWrites(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	ctx := context.Background()
	cond := func(w data.Write, ifMatch, ifNoneMatch []string) data.Write {
		w.IfMatch, w.IfNoneMatch = ifMatch, ifNoneMatch
		return w
	}
	first := mustWrite(t, e, tagged(put(idDS, keyA, identity()))).ETag
	second := mustWrite(t, e, tagged(patch(idDS, keyA, fields(`sex`, `"female"`)))).ETag

	tests := []struct {
		name    string
		w       data.Write
		current string // the ETag the refusal reports; "-" for a write that succeeds
	}{
		{"stale If-Match", cond(patch(idDS, keyA, fields(`sex`, `"male"`)), []string{first}, nil), second},
		{"unknown If-Match", cond(put(idDS, keyA, identity()), []string{"nope"}, nil), second},
		{"weak If-Match", cond(put(idDS, keyA, identity()), []string{"W/" + second}, nil), second},
		{"If-Match on a missing entity", cond(put(idDS, keyB, identity()), []string{first}, nil), ""},
		{"If-Match * on a missing entity", cond(put(idDS, keyB, identity()), []string{data.AnyTag}, nil), ""},
		{"patch of a missing entity, If-Match *", cond(patch(idDS, keyB, fields(`sex`, `"male"`)), []string{data.AnyTag}, nil), ""},
		{"If-None-Match * on an existing entity", cond(put(idDS, keyA, identity()), nil, []string{data.AnyTag}), second},
		{"If-None-Match its ETag", cond(put(idDS, keyA, identity()), nil, []string{second}), second},
		{"existing in another dataset, If-None-Match *", cond(put(insDS, keyA, insurance()), nil, []string{data.AnyTag}), second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := takeSnapshot(t, env.st, [2]string{citizen, keyA}, [2]string{citizen, keyB})
			_, err := e.Write(ctx, tt.w)
			var pe *data.PreconditionError
			if !errors.As(err, &pe) || !errors.Is(err, data.ErrPrecondition) {
				t.Fatalf("error %v (%T), want a *data.PreconditionError", err, err)
			}
			if pe.Current != tt.current {
				t.Errorf("refusal reports ETag %q, want %q (%v)", pe.Current, tt.current, err)
			}
			if !takeSnapshot(t, env.st, [2]string{citizen, keyA}, [2]string{citizen, keyB}).equal(snap) {
				t.Error("a refused write changed the store")
			}
		})
	}

	third := mustWrite(t, e, tagged(cond(patch(idDS, keyA, fields(`sex`, `"male"`)), []string{"other", second}, nil))).ETag
	if third == second || third != mustGet(t, e, citizen, keyA).ETag {
		t.Fatalf("write on the current ETag answered %q (before %q, Get %q)", third, second, mustGet(t, e, citizen, keyA).ETag)
	}
	mustWrite(t, e, tagged(cond(patch(idDS, keyA, fields(`sex`, `"female"`)), []string{data.AnyTag}, nil)))
	create := tagged(cond(put(idDS, keyB, identity()), nil, []string{data.AnyTag}))
	create.WantCreated = true
	res := mustWrite(t, e, create)
	if !res.Created || res.ETag == "" {
		t.Fatalf("create-only put: %+v", res)
	}
	if res := mustWrite(t, e, tagged(cond(del(idDS, keyB), []string{res.ETag}, nil))); res.ETag != "" {
		t.Fatalf("conditional delete: ETag %q after, want none", res.ETag)
	}
}

// TestConditionalBatch: each write of a batch is checked against the entity
// as the writes before it left it, and a refusal is reported by index.
func TestConditionalBatch(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	ctx := context.Background()
	tag := mustWrite(t, e, tagged(put(idDS, keyA, identity()))).ETag
	ws := []data.Write{
		patch(idDS, keyA, fields(`sex`, `"female"`)),
		patch(idDS, keyA, fields(`sex`, `"male"`)), // the same ETag: the first write changed it
		put(idDS, keyB, identity()),
	}
	ws[0].IfMatch, ws[1].IfMatch, ws[2].IfNoneMatch = []string{tag}, []string{tag}, []string{data.AnyTag}

	snap := takeSnapshot(t, env.st, [2]string{citizen, keyA}, [2]string{citizen, keyB})
	_, _, err := e.WriteBatch(ctx, ws, false)
	var be *data.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, data.ErrPrecondition) {
		t.Fatalf("all-or-nothing batch: %v, want a precondition failure at index 1", err)
	}
	if !takeSnapshot(t, env.st, [2]string{citizen, keyA}, [2]string{citizen, keyB}).equal(snap) {
		t.Fatal("a refused batch changed the store")
	}
	results, rejects, err := e.WriteBatch(ctx, ws, true)
	if err != nil || len(results) != 2 || len(rejects) != 1 || rejects[0].Index != 1 || !errors.Is(rejects[0].Err, data.ErrPrecondition) {
		t.Fatalf("partial batch: %d written, rejects %v, err %v", len(results), rejects, err)
	}
	checkFields(t, mustGet(t, e, citizen, keyA).Fields, map[string]string{
		"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"female"`, "birth_province": `"79"`})
}

// TestConcurrentIfMatch: writers that read the same ETag and write at once,
// each conditional on it: exactly one wins, the others are refused with the
// winner's ETag, round after round.
func TestConcurrentIfMatch(t *testing.T) {
	const writers, rounds = 16, 100
	env := newTestEngine(t)
	e := env.eng
	ctx := context.Background()
	tag := mustWrite(t, e, tagged(put(insDS, keyA, insurance(`clinic_visits`, `0`)))).ETag
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]data.Result, writers)
		errs := make([]error, writers)
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := tagged(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`)))
				w.IfMatch = []string{tag}
				<-start
				results[g], errs[g] = e.Write(ctx, w)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for g, err := range errs {
			var pe *data.PreconditionError
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won with If-Match %q", round, winner, g, tag)
			case err == nil:
				winner = g
			case !errors.As(err, &pe):
				t.Fatalf("round %d: writer %d: %v", round, g, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won with the current ETag %q", round, tag)
		}
		tag = results[winner].ETag
		for g, err := range errs {
			var pe *data.PreconditionError
			if errors.As(err, &pe) && pe.Current != tag {
				t.Fatalf("round %d: writer %d refused with ETag %q, the winner's is %q", round, g, pe.Current, tag)
			}
		}
	}
	checkFields(t, mustGet(t, e, citizen, keyA).Fields, map[string]string{
		"insurance_number": `"DN4797912345678"`, "clinic_visits": strconv.Itoa(rounds)})
}
