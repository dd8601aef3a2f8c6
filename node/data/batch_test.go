package data_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
)

func TestWriteBatch(t *testing.T) {
	keyC, keyD := "079090009999", "001085000001"
	good := []data.Write{
		put(idDS, keyA, identity()),
		put(insDS, keyB, insurance()),
		put(idDS, keyC, identity(`ethnicity`, `"Tày"`)),
	}
	badField := patch(idDS, keyB, fields(`sex`, `"x"`))
	badKey := put(idDS, "1", identity())
	missingDelete := del(idDS, keyD) // valid until applied: keyD was never written

	tests := []struct {
		name        string
		ws          []data.Write
		partial     bool
		wantIndex   int   // all-or-nothing: index in the *BatchError; -1 for success
		wantIs      error // all-or-nothing: what the error wraps
		wantRejects []int // partial: indexes rejected
		wantKeys    []string
	}{
		{name: "all valid", ws: good, wantIndex: -1, wantKeys: []string{keyA, keyB, keyC}},
		{name: "all or nothing, invalid value", ws: []data.Write{good[0], good[1], badField, good[2]},
			wantIndex: 2, wantIs: data.ErrInvalid},
		{name: "all or nothing, invalid first", ws: []data.Write{badKey, good[0]}, wantIndex: 0, wantIs: data.ErrInvalid},
		{name: "all or nothing, delete of a missing entity", ws: []data.Write{good[0], missingDelete, good[1]},
			wantIndex: 1, wantIs: data.ErrNotFound},
		{name: "partial", ws: []data.Write{good[0], badField, good[1], badKey, good[2]}, partial: true,
			wantIndex: -1, wantRejects: []int{1, 3}, wantKeys: []string{keyA, keyB, keyC}},
		{name: "partial, all invalid", ws: []data.Write{badField, badKey}, partial: true,
			wantIndex: -1, wantRejects: []int{0, 1}},
		{name: "partial, delete of a missing entity", ws: []data.Write{good[0], missingDelete, good[1]}, partial: true,
			wantIndex: -1, wantRejects: []int{1}, wantKeys: []string{keyA, keyB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEngine(t)
			e := env.eng
			snap := takeSnapshot(t, env.st)
			results, rejects, err := e.WriteBatch(context.Background(), tt.ws, tt.partial)
			if tt.wantIndex >= 0 {
				var be *data.BatchError
				if !errors.As(err, &be) {
					t.Fatalf("error %v (%T), want a *data.BatchError", err, err)
				}
				if be.Index != tt.wantIndex {
					t.Errorf("BatchError.Index %d, want %d (%v)", be.Index, tt.wantIndex, be)
				}
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v, want errors.Is %v", err, tt.wantIs)
				}
				if results != nil || rejects != nil {
					t.Errorf("failed batch returned results %v, rejects %v", results, rejects)
				}
				if after := takeSnapshot(t, env.st); !snap.equal(after) {
					t.Errorf("failed batch changed the store: %+v -> %+v", snap, after)
				}
				for _, w := range tt.ws {
					if _, err := e.Get(citizen, w.Key, false); !errors.Is(err, data.ErrNotFound) {
						t.Errorf("key %s of a failed batch: Get error %v, want ErrNotFound", w.Key, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteBatch: %v", err)
			}
			var got []int
			for _, r := range rejects {
				got = append(got, r.Index)
				if r.Err == nil {
					t.Errorf("reject %d has no error", r.Index)
				}
			}
			if !slices.Equal(got, tt.wantRejects) {
				t.Errorf("rejected %v, want %v", got, tt.wantRejects)
			}
			if len(results) != len(tt.ws)-len(tt.wantRejects) {
				t.Errorf("%d results, want %d", len(results), len(tt.ws)-len(tt.wantRejects))
			}
			var keys []string
			for _, r := range results {
				keys = append(keys, r.Key)
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("results for keys %v, want %v", keys, tt.wantKeys)
			}
			list, _, err := e.List(citizen, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			var stored []string
			for _, ent := range list {
				stored = append(stored, ent.Key)
			}
			want := slices.Sorted(slices.Values(tt.wantKeys))
			if !slices.Equal(stored, want) {
				t.Errorf("stored keys %v, want %v", stored, want)
			}
		})
	}

	t.Run("rejects carry the validation error", func(t *testing.T) {
		env := newTestEngine(t)
		_, rejects, err := env.eng.WriteBatch(context.Background(), []data.Write{badField}, true)
		if err != nil || len(rejects) != 1 {
			t.Fatalf("rejects %v, err %v", rejects, err)
		}
		checkDictError(t, rejects[0].Err, "sex", dict.RuleEnum)
	})

	t.Run("duplicate keys apply in order", func(t *testing.T) {
		env := newTestEngine(t)
		results, rejects, err := env.eng.WriteBatch(context.Background(), []data.Write{
			put(idDS, keyA, identity(`ethnicity`, `"Kinh"`, `phones`, `["0901111111"]`)),
			patch(idDS, keyA, fields(`ethnicity`, `"Tày"`, `phones`, `{"add":["0902222222"]}`)),
			put(insDS, keyA, insurance(`clinic_visits`, `1`)),
			patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`)),
		}, false)
		if err != nil || len(rejects) > 0 {
			t.Fatalf("WriteBatch: %v %v", rejects, err)
		}
		if len(results) != 4 || results[0].Seq != 1 || results[1].Seq != 2 || results[2].Seq != 1 || results[3].Seq != 2 {
			t.Errorf("results %+v, want seqs 1, 2 per dataset stream", results)
		}
		if !(results[0].Time.Compare(results[1].Time) < 0) {
			t.Errorf("second write's time %v not after the first's %v", results[1].Time, results[0].Time)
		}
		checkFields(t, mustGet(t, env.eng, citizen, keyA).Fields, map[string]string{
			"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
			"ethnicity": `"Tày"`, "phones": `["0901111111","0902222222"]`,
			"insurance_number": `"DN4797912345678"`, "clinic_visits": `2`,
		})
	})
}
