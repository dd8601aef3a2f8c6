package data_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/storage"
)

// checkChain fails unless stream (dataset, origin) holds ops 1..head without
// gaps, each op's Prev the hash of the one before and the head's hash the
// hash of the last; it returns the ops.
func checkChain(t *testing.T, st *storage.Store, dataset, origin string) []*crdt.Op {
	t.Helper()
	heads, err := st.Heads(dataset)
	if err != nil {
		t.Fatal(err)
	}
	head := heads[storage.Stream{Dataset: dataset, Origin: origin}]
	var ops []*crdt.Op
	var prev [32]byte
	for seq := uint64(1); seq <= head.Seq; seq++ {
		op, err := st.Op(dataset, origin, seq)
		if err != nil {
			t.Fatalf("op %d of %s/%s: %v", seq, dataset, origin, err)
		}
		if op.Seq != seq || op.Dataset != dataset || op.Origin != origin {
			t.Fatalf("op %d is %s/%s/%d", seq, op.Dataset, op.Origin, op.Seq)
		}
		if op.Prev != prev {
			t.Errorf("op %d: Prev %x, want hash of op %d %x", seq, op.Prev[:4], seq-1, prev[:4])
		}
		prev = sha256.Sum256(crdt.AppendOp(nil, op))
		if seq > 1 && op.Time.Compare(ops[len(ops)-1].Time) <= 0 {
			t.Errorf("op %d: time %v not after op %d's %v", seq, op.Time, seq-1, ops[len(ops)-1].Time)
		}
		ops = append(ops, op)
	}
	if head.Hash != prev {
		t.Errorf("head hash %x, want hash of op %d %x", head.Hash[:4], head.Seq, prev[:4])
	}
	if _, err := st.Op(dataset, origin, head.Seq+1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("op after the head: %v, want ErrNotFound", err)
	}
	return ops
}

func TestOps(t *testing.T) {
	env := newTestEngine(t, func(d *dict.Dataset) bool {
		if d.Name == "reference.communes" {
			d.OwnerEpoch = 7
		}
		return true
	})
	e := env.eng
	// Physical time goes backwards and stands still; the HLC must not.
	steps := []struct {
		clock int64
		w     data.Write
	}{
		{1000, put(idDS, keyA, identity())},
		{900, patch(idDS, keyA, fields(`ethnicity`, `"Kinh"`))},
		{900, put(insDS, keyA, insurance(`clinic_visits`, `1`))},
		{900, patch(idDS, keyA, fields(`phones`, `{"add":["0901234567"]}`))},
		{500, del(idDS, keyA)},
		{2000, put(idDS, keyB, identity())},
		{1999, put("reference.communes", "26734", fields(`name`, `"Phường Sài Gòn"`, `province_code`, `"79"`))},
	}
	var last crdt.Timestamp
	for i, s := range steps {
		env.clock.set(s.clock)
		before, err := env.st.Heads("")
		if err != nil {
			t.Fatal(err)
		}
		view := env.meta.View()
		res := mustWrite(t, e, s.w)
		after, err := env.st.Heads("")
		if err != nil {
			t.Fatal(err)
		}
		stream := storage.Stream{Dataset: s.w.Dataset, Origin: self}
		if got, want := after[stream].Seq, before[stream].Seq+1; got != want || res.Seq != want {
			t.Errorf("step %d: stream %v head %d, result seq %d, want %d", i, stream, got, res.Seq, want)
		}
		for k, h := range before {
			if k != stream && after[k] != h {
				t.Errorf("step %d: stream %v moved too", i, k)
			}
		}
		op, err := env.st.Op(s.w.Dataset, self, res.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if op.Time.Compare(last) <= 0 {
			t.Errorf("step %d: HLC %v not after %v (clock %d)", i, op.Time, last, s.clock)
		}
		last = op.Time
		if op.Time != res.Time || op.Time != after[stream].Time {
			t.Errorf("step %d: op time %v, result %v, head %v", i, op.Time, res.Time, after[stream].Time)
		}
		if want := view.Dataset(s.w.Dataset).OwnerEpoch; op.Epoch != want {
			t.Errorf("step %d: epoch %d, want owner epoch %d", i, op.Epoch, want)
		}
		if op.MetaIndex != view.Index || res.MetaIndex != view.Index {
			t.Errorf("step %d: op meta index %d, result %d, want view index %d", i, op.MetaIndex, res.MetaIndex, view.Index)
		}
		if op.Delete != (s.w.Mode == data.Delete) || op.Type != citizen && s.w.Dataset != "reference.communes" || op.Key != s.w.Key {
			t.Errorf("step %d: op %+v does not describe write %+v", i, op, s.w)
		}
	}
	if got := checkChain(t, env.st, idDS, self); len(got) != 5 {
		t.Errorf("population.identity stream has %d ops, want 5", len(got))
	}
	checkChain(t, env.st, insDS, self)
	if ops := checkChain(t, env.st, "reference.communes", self); len(ops) != 1 || ops[0].Epoch != 7 {
		t.Errorf("reference.communes ops %+v, want one op at epoch 7", ops)
	}

	t.Run("meta index follows the view", func(t *testing.T) {
		types := env.meta.View().Type(citizen).EntityType
		next := *types
		next.Fields = make(map[string]dict.Field, len(types.Fields)+1)
		for k, v := range types.Fields {
			next.Fields[k] = v
		}
		next.Fields["nickname"] = dict.Field{Type: dict.String}
		prevIndex := env.meta.View().Index
		v, err := env.meta.PutType(context.Background(), &next)
		if err != nil {
			t.Fatal(err)
		}
		res := mustWrite(t, e, patch(idDS, keyB, fields(`ethnicity`, `"Tày"`)))
		op, err := env.st.Op(idDS, self, res.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if op.MetaIndex != v.Index || v.Index <= prevIndex {
			t.Errorf("op meta index %d, want the new view's %d", op.MetaIndex, v.Index)
		}
	})
}

func TestChanges(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	writes := []data.Write{
		put(idDS, keyA, identity(`phones`, `["0901111111","0902222222"]`, `ethnicity`, `"Kinh"`)),
		patch(idDS, keyA, fields(`phones`, `{"add":["0903333333"],"remove":["0901111111","0909999999"]}`)),
		put(insDS, keyA, insurance(`clinic_visits`, `3`)),
		patch(insDS, keyA, fields(`clinic_visits`, `{"increment":2}`)),
		put(idDS, keyA, identity()), // clears ethnicity and phones
		del(idDS, keyA),
	}
	for _, w := range writes {
		env.clock.add(1)
		mustWrite(t, e, w)
	}
	want := []struct {
		dataset string
		seq     uint64
		op      string
		fields  map[string]string
	}{
		{idDS, 1, "put", map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
			"birth_province": `"79"`, "ethnicity": `"Kinh"`, "phones": `{"add":["0901111111","0902222222"],"remove":[]}`}},
		{idDS, 2, "write", map[string]string{"phones": `{"add":["0903333333"],"remove":["0901111111"]}`}},
		{insDS, 1, "put", map[string]string{"insurance_number": `"DN4797912345678"`, "clinic_visits": `{"origin_total":3}`}},
		{insDS, 2, "write", map[string]string{"clinic_visits": `{"origin_total":5}`}},
		{idDS, 3, "put", map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
			"birth_province": `"79"`}}, // a put replaces: what it leaves out is cleared without naming it
		{idDS, 4, "delete", nil},
	}
	all, err := e.Changes(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(all), len(want), all)
	}
	for i, c := range all {
		w := want[i]
		if c.Cursor != uint64(i+1) || c.Dataset != w.dataset || c.Seq != w.seq || c.Op != w.op ||
			c.Type != citizen || c.Key != keyA || c.Origin != self || c.Time == "" {
			t.Errorf("change %d: %+v, want cursor %d %s seq %d %s", i, c, i+1, w.dataset, w.seq, w.op)
		}
		if w.fields == nil {
			if c.Fields != nil {
				t.Errorf("change %d: delete shows fields %v", i, c.Fields)
			}
			continue
		}
		checkFields(t, c.Fields, w.fields)
	}
	for _, tc := range []struct{ since, limit, want uint64 }{{0, 2, 2}, {2, 100, 4}, {5, 100, 1}, {6, 100, 0}, {100, 100, 0}} {
		t.Run(fmt.Sprintf("since %d limit %d", tc.since, tc.limit), func(t *testing.T) {
			got, err := e.Changes(tc.since, int(tc.limit))
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(got)) != tc.want {
				t.Fatalf("%d changes, want %d", len(got), tc.want)
			}
			for i, c := range got {
				if c.Cursor != tc.since+uint64(i)+1 || marshal(t, c) != marshal(t, all[c.Cursor-1]) {
					t.Errorf("change %+v, want %+v", c, all[tc.since+uint64(i)])
				}
			}
		})
	}
}

func TestList(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	var keys []string
	for i := range 23 {
		keys = append(keys, fmt.Sprintf("0790900%05d", i*7))
	}
	// Write in a scrambled order; some in one dataset only, some in both.
	for i, k := range slices.Backward(keys) {
		if i%2 == 0 || i%3 == 1 {
			mustWrite(t, e, put(idDS, k, identity()))
		}
		if i%3 != 1 {
			mustWrite(t, e, put(insDS, k, insurance()))
		}
	}
	// Delete some: fully (every dataset that holds them) or from one dataset.
	deleted := map[string]bool{}
	for i, k := range keys {
		if i%5 != 0 {
			continue
		}
		for _, ds := range []string{idDS, insDS} {
			if _, err := e.Write(context.Background(), del(ds, k)); err != nil && !errors.Is(err, data.ErrNotFound) {
				t.Fatal(err)
			}
		}
		deleted[k] = true
	}
	mustWrite(t, e, del(insDS, keys[2])) // still in population.identity
	var want []string
	for _, k := range keys {
		if !deleted[k] {
			want = append(want, k)
		}
	}
	// Another type's entities must not show up.
	mustWrite(t, e, put("reference.communes", "26734", fields(`name`, `"Phường Sài Gòn"`, `province_code`, `"79"`)))

	for _, limit := range []int{1, 2, 3, 7, 18, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			after := ""
			for page := 0; ; page++ {
				if page > len(keys)+1 {
					t.Fatal("paging does not end")
				}
				ents, next, err := e.List(citizen, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ents) > limit {
					t.Fatalf("page of %d, limit %d", len(ents), limit)
				}
				for _, ent := range ents {
					if ent.Type != citizen || len(ent.Datasets) == 0 || len(ent.Fields) == 0 {
						t.Errorf("listed %+v", ent)
					}
					got = append(got, ent.Key)
				}
				if next == "" {
					break
				}
				if len(ents) == 0 {
					t.Fatalf("empty page with next %q", next)
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed\n %v\nwant\n %v", got, want)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	env := newTestEngine(t)
	env.clock.set(5_000)
	mustWrite(t, env.eng, put(idDS, keyA, identity(`phones`, `["0901234567"]`)))
	mustWrite(t, env.eng, patch(idDS, keyA, fields(`ethnicity`, `"Kinh"`)))
	mustWrite(t, env.eng, put(insDS, keyA, insurance(`clinic_visits`, `4`)))
	beforeEnt := marshal(t, mustGet(t, env.eng, citizen, keyA))
	beforeChanges, err := env.eng.Changes(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	heads, err := env.st.Heads("")
	if err != nil {
		t.Fatal(err)
	}
	index := env.meta.View().Index

	env.reopen(t)
	env.clock.set(1_000) // the clock went back while the node was down
	if got := env.meta.View().Index; got != index {
		t.Errorf("meta index %d after restart, want %d", got, index)
	}
	if got := marshal(t, mustGet(t, env.eng, citizen, keyA)); got != beforeEnt {
		t.Errorf("entity after restart:\n%s\nwant\n%s", got, beforeEnt)
	}
	changes, err := env.eng.Changes(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if marshal(t, changes) != marshal(t, beforeChanges) {
		t.Errorf("changes after restart differ")
	}

	for _, w := range []data.Write{
		patch(idDS, keyA, fields(`ethnicity`, `"Tày"`)),
		patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`)),
	} {
		ds := w.Dataset
		prev := heads[storage.Stream{Dataset: ds, Origin: self}]
		res := mustWrite(t, env.eng, w)
		if res.Seq != prev.Seq+1 {
			t.Errorf("%s: seq %d after restart, want %d", ds, res.Seq, prev.Seq+1)
		}
		op, err := env.st.Op(ds, self, res.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if op.Prev != prev.Hash {
			t.Errorf("%s: chain broken across restart", ds)
		}
		for _, h := range heads {
			if op.Time.Compare(h.Time) <= 0 {
				t.Errorf("%s: HLC %v after restart not after %v", ds, op.Time, h.Time)
			}
		}
		checkChain(t, env.st, ds, self)
	}
	changes, err = env.eng.Changes(uint64(len(beforeChanges)), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Cursor != uint64(len(beforeChanges))+1 {
		t.Errorf("changes after restart: %+v", changes)
	}
	checkFields(t, mustGet(t, env.eng, citizen, keyA).Fields, map[string]string{
		"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
		"phones": `["0901234567"]`, "ethnicity": `"Tày"`, "insurance_number": `"DN4797912345678"`, "clinic_visits": `5`,
	})
}

func TestConcurrentWrites(t *testing.T) {
	const writers, increments = 16, 10
	env := newTestEngine(t)
	e := env.eng
	mustWrite(t, e, put(insDS, keyA, insurance()))
	var wg sync.WaitGroup
	errs := make(chan error, writers*(increments+1))
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			key := fmt.Sprintf("0010850%05d", g)
			if _, err := e.Write(ctx, put(idDS, key, identity())); err != nil {
				errs <- err
			}
			for range increments {
				env.clock.add(1)
				if _, err := e.Write(ctx, patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkFields(t, mustGet(t, e, citizen, keyA).Fields, map[string]string{
		"insurance_number": `"DN4797912345678"`, "clinic_visits": fmt.Sprint(writers * increments)})
	list, _, err := e.List(citizen, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != writers+1 {
		t.Errorf("%d entities, want %d", len(list), writers+1)
	}
	if ops := checkChain(t, env.st, insDS, self); len(ops) != writers*increments+1 {
		t.Errorf("%d ops in %s, want %d", len(ops), insDS, writers*increments+1)
	}
	if ops := checkChain(t, env.st, idDS, self); len(ops) != writers {
		t.Errorf("%d ops in %s, want %d", len(ops), idDS, writers)
	}
	changes, err := e.Changes(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != writers*(increments+1)+1 {
		t.Errorf("%d changes, want %d", len(changes), writers*(increments+1)+1)
	}
	for i, c := range changes {
		if c.Cursor != uint64(i+1) {
			t.Fatalf("change %d has cursor %d", i, c.Cursor)
		}
	}
}
