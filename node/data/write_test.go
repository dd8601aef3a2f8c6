package data_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
)

func TestPutGet(t *testing.T) {
	env := newTestEngine(t)
	e := env.eng
	mustWrite(t, e, put(idDS, keyA, identity(`phones`, `["0901234567"]`)))

	t.Run("one dataset", func(t *testing.T) {
		ent := mustGet(t, e, citizen, keyA)
		if ent.Type != citizen || ent.Key != keyA {
			t.Errorf("entity %s/%s, want %s/%s", ent.Type, ent.Key, citizen, keyA)
		}
		checkFields(t, ent.Fields, map[string]string{
			"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
			"birth_province": `"79"`, "phones": `["0901234567"]`,
		})
		if !slices.Equal(ent.Datasets, []string{idDS}) {
			t.Errorf("datasets %v, want [%s]", ent.Datasets, idDS)
		}
		if ent.Provenance != nil {
			t.Errorf("provenance without asking: %v", ent.Provenance)
		}
	})

	env.clock.add(1000)
	mustWrite(t, e, put(insDS, keyA, insurance(`insurance_expiry`, `"2030-12-31"`, `clinic_visits`, `2`)))

	t.Run("second dataset merges", func(t *testing.T) {
		ent := mustGet(t, e, citizen, keyA)
		checkFields(t, ent.Fields, map[string]string{
			"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
			"birth_province": `"79"`, "phones": `["0901234567"]`,
			"insurance_number": `"DN4797912345678"`, "insurance_expiry": `"2030-12-31"`, "clinic_visits": `2`,
		})
		if !slices.Equal(ent.Datasets, []string{insDS, idDS}) {
			t.Errorf("datasets %v, want [%s %s]", ent.Datasets, insDS, idDS)
		}
		list, _, err := e.List(citizen, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("List returned %d entities, want 1 merged entity", len(list))
		}
	})

	t.Run("provenance", func(t *testing.T) {
		ent, err := e.Get(citizen, keyA, true)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.UnixMilli(1_750_000_000_000).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		t1 := time.UnixMilli(1_750_000_001_000).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		want := map[string]data.Provenance{
			"full_name":        {Dataset: idDS, Origin: self, Epoch: 1, Time: t0, HLC: "1750000000000.0"},
			"birth_date":       {Dataset: idDS, Origin: self, Epoch: 1, Time: t0, HLC: "1750000000000.0"},
			"sex":              {Dataset: idDS, Origin: self, Epoch: 1, Time: t0, HLC: "1750000000000.0"},
			"birth_province":   {Dataset: idDS, Origin: self, Epoch: 1, Time: t0, HLC: "1750000000000.0"},
			"phones":           {Dataset: idDS, Origin: self, Epoch: 1, Time: t0, HLC: "1750000000000.0"},
			"insurance_number": {Dataset: insDS, Origin: self, Epoch: 1, Time: t1, HLC: "1750000001000.0"},
			"insurance_expiry": {Dataset: insDS, Origin: self, Epoch: 1, Time: t1, HLC: "1750000001000.0"},
			"clinic_visits":    {Dataset: insDS}, // a counter has one writer per origin: no single time
		}
		if len(ent.Provenance) != len(want) {
			t.Errorf("provenance for %v, want %v", sortedKeys(ent.Provenance), sortedKeys(want))
		}
		for name, w := range want {
			if got := ent.Provenance[name]; got != w {
				t.Errorf("provenance of %s: got %+v, want %+v", name, got, w)
			}
		}
	})
}

// step is one write of a scenario; wantErr, if set, is what it must fail with.
type step struct {
	w       data.Write
	wantErr error
}

func TestWriteSemantics(t *testing.T) {
	ok := func(w data.Write) step { return step{w: w} }
	tests := []struct {
		name  string
		steps []step
		want  map[string]string // nil: Get must return ErrNotFound
	}{
		{
			name: "put clears omitted registers and sets",
			steps: []step{
				ok(put(idDS, keyA, identity(`ethnicity`, `"Kinh"`, `residence_province`, `"01"`, `phones`, `["0901234567"]`))),
				ok(put(idDS, keyA, fields(`full_name`, `"Trần Thị Bình"`, `birth_date`, `"1991-03-04"`, `sex`, `"female"`, `birth_province`, `"01"`))),
			},
			want: map[string]string{"full_name": `"Trần Thị Bình"`, "birth_date": `"1991-03-04"`, "sex": `"female"`, "birth_province": `"01"`},
		},
		{
			name: "put keeps counters",
			steps: []step{
				ok(put(insDS, keyA, insurance(`insurance_expiry`, `"2030-01-01"`, `clinic_visits`, `3`))),
				ok(put(insDS, keyA, fields(`insurance_number`, `"HC4797912345678"`))),
			},
			want: map[string]string{"insurance_number": `"HC4797912345678"`, "clinic_visits": `3`},
		},
		{
			name: "put can set a counter",
			steps: []step{
				ok(put(insDS, keyA, insurance(`clinic_visits`, `3`))),
				ok(put(insDS, keyA, insurance(`clinic_visits`, `7`))),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`, "clinic_visits": `7`},
		},
		{
			name: "patch changes only the given fields",
			steps: []step{
				ok(put(idDS, keyA, identity(`ethnicity`, `"Kinh"`, `phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`full_name`, `"Nguyễn Văn Bình"`, `residence_province`, `"48"`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn Bình"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
				"birth_province": `"79"`, "ethnicity": `"Kinh"`, "residence_province": `"48"`, "phones": `["0901234567"]`},
		},
		{
			name: "patch null clears an optional field",
			steps: []step{
				ok(put(idDS, keyA, identity(`ethnicity`, `"Kinh"`, `phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`ethnicity`, `null`, `phones`, `null`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`},
		},
		{
			name: "set add and remove; removing an absent element is a no-op",
			steps: []step{
				ok(put(idDS, keyA, identity(`phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0902222222","0903333333"]}`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"remove":["0901234567"]}`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"remove":["0909999999"]}`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0904444444"],"remove":["0902222222"]}`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
				"phones": `["0903333333","0904444444"]`},
		},
		{
			name: "set add up to max_items",
			steps: []step{
				ok(put(idDS, keyA, identity(`phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0900000001","0900000002","0900000003","0900000004"]}`))),
				{w: patch(idDS, keyA, fields(`phones`, `{"add":["0900000005"]}`)), wantErr: data.ErrInvalid},
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0900000005"],"remove":["0901234567"]}`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
				"phones": `["0900000001","0900000002","0900000003","0900000004","0900000005"]`},
		},
		{
			name: "add wins over a remove of the same element in one patch",
			steps: []step{
				ok(put(idDS, keyA, identity(`phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0901234567"],"remove":["0901234567"]}`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
				"phones": `["0901234567"]`},
		},
		{
			name: "add and remove of an absent element in one patch adds it",
			steps: []step{
				ok(put(idDS, keyA, identity())),
				ok(patch(idDS, keyA, fields(`phones`, `{"add":["0901234567"],"remove":["0901234567"]}`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
				"phones": `["0901234567"]`},
		},
		{
			name: "removing every element hides the field",
			steps: []step{
				ok(put(idDS, keyA, identity(`phones`, `["0901234567"]`))),
				ok(patch(idDS, keyA, fields(`phones`, `{"remove":["0901234567"]}`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`},
		},
		{
			name: "set replace by array",
			steps: []step{
				ok(put(idDS, keyA, identity(`phones`, `["0901111111","0902222222"]`))),
				ok(patch(idDS, keyA, fields(`phones`, `["0902222222","0903333333"]`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`, "birth_province": `"79"`,
				"phones": `["0902222222","0903333333"]`},
		},
		{
			name: "counter increments",
			steps: []step{
				ok(put(insDS, keyA, insurance())),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`))),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":5}`))),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":-2}`))),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`, "clinic_visits": `4`},
		},
		{
			name: "counter set to a total, then incremented",
			steps: []step{
				ok(put(insDS, keyA, insurance(`clinic_visits`, `3`))),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `10`))),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1}`))),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `-2`))),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`, "clinic_visits": `-2`},
		},
		{
			name: "delete then get is not found",
			steps: []step{
				ok(put(idDS, keyA, identity())),
				ok(del(idDS, keyA)),
			},
			want: nil,
		},
		{
			name: "delete of one dataset leaves the other",
			steps: []step{
				ok(put(idDS, keyA, identity())),
				ok(put(insDS, keyA, insurance())),
				ok(del(idDS, keyA)),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`},
		},
		{
			name: "write after delete revives with only the new fields",
			steps: []step{
				ok(put(idDS, keyA, identity(`ethnicity`, `"Kinh"`, `phones`, `["0901234567"]`))),
				ok(del(idDS, keyA)),
				ok(put(idDS, keyA, identity(`residence_province`, `"48"`))),
			},
			want: map[string]string{"full_name": `"Nguyễn Văn An"`, "birth_date": `"1990-01-02"`, "sex": `"male"`,
				"birth_province": `"79"`, "residence_province": `"48"`},
		},
		{
			name: "a patch does not create: it would skip the required fields",
			steps: []step{
				ok(put(idDS, keyA, identity())),
				ok(del(idDS, keyA)),
				{w: patch(idDS, keyA, fields(`residence_province`, `"48"`)), wantErr: data.ErrNotFound},
			},
		},
		{
			name: "write after delete does not revive an old counter",
			steps: []step{
				ok(put(insDS, keyA, insurance(`clinic_visits`, `4`))),
				ok(del(insDS, keyA)),
				ok(put(insDS, keyA, insurance())),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`},
		},
		{
			name: "counter after delete restarts from zero",
			steps: []step{
				ok(put(insDS, keyA, insurance(`clinic_visits`, `4`))),
				ok(del(insDS, keyA)),
				ok(put(insDS, keyA, insurance())),
				ok(patch(insDS, keyA, fields(`clinic_visits`, `{"increment":2}`))),
			},
			want: map[string]string{"insurance_number": `"DN4797912345678"`, "clinic_visits": `2`},
		},
		{
			name:  "delete of a missing entity",
			steps: []step{{w: del(idDS, keyA), wantErr: data.ErrNotFound}},
			want:  nil,
		},
		{
			name: "delete twice",
			steps: []step{
				ok(put(idDS, keyA, identity())),
				ok(del(idDS, keyA)),
				{w: del(idDS, keyA), wantErr: data.ErrNotFound},
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEngine(t)
			for i, s := range tt.steps {
				env.clock.add(10)
				_, err := env.eng.Write(context.Background(), s.w)
				switch {
				case s.wantErr == nil && err != nil:
					t.Fatalf("step %d (%s): %v", i, s.w.Mode, err)
				case s.wantErr != nil && !errors.Is(err, s.wantErr):
					t.Fatalf("step %d (%s): error %v, want %v", i, s.w.Mode, err, s.wantErr)
				}
			}
			ent, err := env.eng.Get(citizen, keyA, false)
			if tt.want == nil {
				if !errors.Is(err, data.ErrNotFound) {
					t.Fatalf("Get: %v, %v; want ErrNotFound", ent, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			checkFields(t, ent.Fields, tt.want)
		})
	}
}

func TestRejectionsChangeNothing(t *testing.T) {
	tests := []struct {
		name      string
		as        string // engine's Self; "" is "mps"
		w         data.Write
		wantIs    error
		wantField string
		wantRule  string // "" when no *dict.Error is expected
		wantMsg   string // a substring of the message
	}{
		{name: "unknown dataset", w: put("population.nothing", keyA, identity()), wantIs: data.ErrNotFound, wantMsg: "population.nothing"},
		{name: "not the owner", as: "moh", w: patch(idDS, keyA, fields(`ethnicity`, `"Kinh"`)), wantIs: data.ErrNotOwner, wantMsg: "owned by mps"},
		{name: "not the owner of a delete", as: "moh", w: del(idDS, keyA), wantIs: data.ErrNotOwner, wantMsg: "mps"},
		{name: "bad key pattern", w: put(idDS, "12345", identity()), wantIs: data.ErrInvalid, wantRule: dict.RuleKeyPattern},
		{name: "invalid key", w: put(idDS, "0790/0001234", identity()), wantIs: data.ErrInvalid, wantRule: dict.RuleKeyInvalid},
		{name: "key outside the key prefix", w: put(land79, "01-26734-12-345", fields(`commune_code`, `"26734"`, `area_m2`, `"120.5"`, `land_use`, `"residential"`)),
			wantIs: data.ErrInvalid, wantRule: "key_prefix", wantMsg: `"79-"`},
		{name: "unknown field", w: patch(idDS, keyA, fields(`nickname`, `"An"`)), wantIs: data.ErrInvalid, wantField: "nickname", wantRule: dict.RuleUnknownField},
		{name: "unknown field in a put", w: put(idDS, keyA, identity(`nickname`, `"An"`)), wantIs: data.ErrInvalid, wantField: "nickname", wantRule: dict.RuleUnknownField},
		{name: "field of another dataset", w: patch(idDS, keyA, fields(`insurance_number`, `"DN4797912345678"`)), wantIs: data.ErrInvalid, wantField: "insurance_number", wantRule: dict.RuleNotInDataset},
		{name: "set patch of a field of another dataset", w: patch(insDS, keyA, fields(`phones`, `{"add":["0901234567"]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleNotInDataset},
		{name: "counter patch of an unknown field", w: patch(insDS, keyA, fields(`visits`, `{"increment":1}`)), wantIs: data.ErrInvalid, wantField: "visits", wantRule: dict.RuleUnknownField},
		{name: "missing required on put", w: put(idDS, keyA, fields(`full_name`, `"An"`, `birth_date`, `"1990-01-02"`, `birth_province`, `"79"`)), wantIs: data.ErrInvalid, wantField: "sex", wantRule: dict.RuleRequired},
		{name: "null required on put", w: put(idDS, keyA, identity(`sex`, `null`)), wantIs: data.ErrInvalid, wantField: "sex", wantRule: dict.RuleRequired},
		{name: "null required on patch", w: patch(idDS, keyA, fields(`full_name`, `null`)), wantIs: data.ErrInvalid, wantField: "full_name", wantRule: dict.RuleRequired},
		{name: "wrong type", w: patch(idDS, keyA, fields(`full_name`, `42`)), wantIs: data.ErrInvalid, wantField: "full_name", wantRule: dict.RuleType},
		{name: "date given as a number", w: patch(idDS, keyA, fields(`birth_date`, `19900102`)), wantIs: data.ErrInvalid, wantField: "birth_date", wantRule: dict.RuleType},
		{name: "pattern", w: patch(idDS, keyA, fields(`birth_province`, `"7"`)), wantIs: data.ErrInvalid, wantField: "birth_province", wantRule: dict.RulePattern},
		{name: "enum", w: patch(idDS, keyA, fields(`sex`, `"other"`)), wantIs: data.ErrInvalid, wantField: "sex", wantRule: dict.RuleEnum},
		{name: "bad date", w: patch(idDS, keyA, fields(`birth_date`, `"1990-13-45"`)), wantIs: data.ErrInvalid, wantField: "birth_date", wantRule: dict.RuleDate},
		{name: "set element pattern in an array", w: patch(idDS, keyA, fields(`phones`, `["12345"]`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RulePattern},
		{name: "set array too long", w: patch(idDS, keyA, fields(`phones`, `["0900000001","0900000002","0900000003","0900000004","0900000005","0900000006"]`)),
			wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleMaxItems},
		{name: "set add beyond max_items", w: patch(idDS, keyA, fields(`phones`, `{"add":["0900000001","0900000002","0900000003","0900000004","0900000005"]}`)),
			wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleMaxItems},
		{name: "set patch with an unknown member", w: patch(idDS, keyA, fields(`phones`, `{"put":["0901234567"]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleType},
		{name: "set patch of numbers", w: patch(idDS, keyA, fields(`phones`, `{"add":[901234567]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleType},
		{name: "set patch element pattern", w: patch(idDS, keyA, fields(`phones`, `{"add":["12345"]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RulePattern},
		{name: "set patch that changes nothing", w: patch(idDS, keyA, fields(`phones`, `{"add":[]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: "empty"},
		{name: "set patch object in a put", w: put(idDS, keyA, identity(`phones`, `{"add":["0901234567"]}`)), wantIs: data.ErrInvalid, wantField: "phones", wantRule: dict.RuleType},
		{name: "counter increment of 0", w: patch(insDS, keyA, fields(`clinic_visits`, `{"increment":0}`)), wantIs: data.ErrInvalid, wantField: "clinic_visits", wantRule: dict.RuleType},
		{name: "counter increment of a string", w: patch(insDS, keyA, fields(`clinic_visits`, `{"increment":"1"}`)), wantIs: data.ErrInvalid, wantField: "clinic_visits", wantRule: dict.RuleType},
		{name: "counter increment of a fraction", w: patch(insDS, keyA, fields(`clinic_visits`, `{"increment":1.5}`)), wantIs: data.ErrInvalid, wantField: "clinic_visits", wantRule: dict.RuleType},
		{name: "counter patch without increment", w: patch(insDS, keyA, fields(`clinic_visits`, `{"add":1}`)), wantIs: data.ErrInvalid, wantField: "clinic_visits", wantRule: dict.RuleType},
		{name: "counter set to a string", w: patch(insDS, keyA, fields(`clinic_visits`, `"3"`)), wantIs: data.ErrInvalid, wantField: "clinic_visits", wantRule: dict.RuleType},
		{name: "empty patch", w: patch(idDS, keyA, nil), wantIs: data.ErrInvalid, wantRule: "empty"},
		{name: "unknown mode", w: data.Write{Dataset: idDS, Key: keyA, Mode: 42}, wantIs: data.ErrInvalid},
	}
	env := newTestEngine(t)
	mustWrite(t, env.eng, put(idDS, keyA, identity(`phones`, `["0901234567"]`)))
	mustWrite(t, env.eng, put(insDS, keyA, insurance(`clinic_visits`, `2`)))
	before, err := env.eng.Get(citizen, keyA, true)
	if err != nil {
		t.Fatal(err)
	}
	entities := [][2]string{{citizen, keyA}, {citizen, "12345"}, {"land_parcel", "01-26734-12-345"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env.eng
			if tt.as != "" {
				e = env.engine(t, tt.as)
			}
			snap := takeSnapshot(t, env.st, entities...)
			env.clock.add(10)
			_, err := e.Write(context.Background(), tt.w)
			if err == nil {
				t.Fatal("write accepted")
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantRule != "" {
				checkDictError(t, err, tt.wantField, tt.wantRule)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q does not mention %q", err, tt.wantMsg)
			}
			if after := takeSnapshot(t, env.st, entities...); !snap.equal(after) {
				t.Errorf("store changed:\nbefore %+v\n after %+v", snap, after)
			}
			got, err := env.eng.Get(citizen, keyA, true)
			if err != nil {
				t.Fatal(err)
			}
			if g, b := marshal(t, got), marshal(t, before); g != b {
				t.Errorf("entity changed:\nbefore %s\n after %s", b, g)
			}
		})
	}
}

// TestHeldWrites: while writes are held, a write fails with a HeldError
// that says to ask again within HeldRetry (or when the hold's limit ends, if
// sooner) and writes nothing; once released, the same write succeeds.
func TestHeldWrites(t *testing.T) {
	env := newTestEngine(t)
	ctx := context.Background()
	w := put(idDS, keyA, identity())
	for _, tc := range []struct {
		limit time.Duration
		want  time.Duration
	}{
		{10 * time.Minute, data.HeldRetry},
		{300 * time.Millisecond, 300 * time.Millisecond},
	} {
		env.eng.HoldWrites("getting its own ops back", tc.limit)
		_, err := env.eng.Write(ctx, w)
		var held *data.HeldError
		if !errors.As(err, &held) || !errors.Is(err, data.ErrHeld) {
			t.Fatalf("held for %s: write gave %v, want a HeldError", tc.limit, err)
		}
		if held.RetryAfter != tc.want || held.Reason != "getting its own ops back" {
			t.Errorf("held for %s: retry after %s (%q), want %s", tc.limit, held.RetryAfter, held.Reason, tc.want)
		}
		if _, err := env.eng.Get(citizen, keyA, false); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("a held write was written: %v", err)
		}
	}
	env.eng.ReleaseWrites()
	mustWrite(t, env.eng, w)
}
