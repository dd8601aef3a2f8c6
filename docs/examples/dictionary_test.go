package examples

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/lienthong/lienthong/node/dict"
)

// sample loads the sample dictionary and compiles every entity type.
func sample(t *testing.T) (map[string]*dict.Validator, map[string]*dict.Dataset) {
	t.Helper()
	types, err := EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	vs := map[string]*dict.Validator{}
	for _, et := range types {
		v, err := dict.Compile(et)
		if err != nil {
			t.Fatalf("%s: %v", et.Name, err)
		}
		vs[et.Name] = v
	}
	dss, err := Datasets()
	if err != nil {
		t.Fatal(err)
	}
	ds := map[string]*dict.Dataset{}
	for _, d := range dss {
		if ds[d.Name] != nil {
			t.Fatalf("dataset %s listed twice", d.Name)
		}
		ds[d.Name] = d
	}
	return vs, ds
}

func TestSampleDictionary(t *testing.T) {
	types, err := EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, et := range types {
		names = append(names, et.Name)
	}
	want := []string{"business", "citizen", "commune", "land_parcel", "province"}
	if len(names) != len(want) {
		t.Fatalf("entity types %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entity types %v, want %v (sorted)", names, want)
		}
	}
	vs, _ := sample(t)
	dss, err := Datasets()
	if err != nil {
		t.Fatal(err)
	}
	if len(dss) != 7 {
		t.Fatalf("%d datasets, want 7", len(dss))
	}
	ms, err := Ministries()
	if err != nil {
		t.Fatal(err)
	}
	ministry := map[string]bool{}
	for _, m := range ms {
		ministry[m.Short] = true
	}
	for _, d := range dss {
		v := vs[d.EntityType]
		if v == nil {
			t.Errorf("dataset %s: no entity type %q", d.Name, d.EntityType)
			continue
		}
		if err := d.Check(v.Type()); err != nil {
			t.Errorf("dataset %s: %v", d.Name, err)
		}
		if d.OwnerEpoch != 1 {
			t.Errorf("dataset %s: owner_epoch %d", d.Name, d.OwnerEpoch)
		}
		for _, r := range d.Readers {
			if !ministry[r] {
				t.Errorf("dataset %s: reader %q is not a ministry of ministries.csv", d.Name, r)
			}
		}
	}
	for i, a := range dss {
		for _, b := range dss[i+1:] {
			if dict.Overlaps(a, b) {
				t.Errorf("datasets %s and %s overlap", a.Name, b.Name)
			}
		}
	}
	// Every field of every type is in some dataset.
	for _, et := range types {
		for f := range et.Fields {
			covered := false
			for _, d := range dss {
				if d.EntityType == et.Name && d.Covers(f) {
					covered = true
				}
			}
			if !covered {
				t.Errorf("field %s.%s is in no sample dataset", et.Name, f)
			}
		}
	}
}

// The reference lists are valid province records.
func TestProvincesAreValidRecords(t *testing.T) {
	vs, ds := sample(t)
	ps, err := Provinces()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := vs["province"].Key(p.Code); err != nil {
			t.Errorf("province %s: %v", p.Code, err)
		}
		merged, _ := json.Marshal(p.MergedFrom)
		if p.MergedFrom == nil {
			merged = []byte(`[]`)
		}
		rec := map[string]json.RawMessage{
			"name":        raw(p.Name),
			"kind":        raw(p.Kind),
			"region":      raw(p.Region),
			"merged_from": merged,
		}
		if err := vs["province"].Record(ds["reference.provinces"], rec, false); err != nil {
			t.Errorf("province %s: %v", p.Code, err)
		}
	}
}

func raw(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

type rec = map[string]json.RawMessage

func TestSampleRecords(t *testing.T) {
	vs, ds := sample(t)
	citizen := rec{
		"full_name":          raw("Nguyễn Thị Bích Ngọc"),
		"birth_date":         raw("1990-05-17"),
		"sex":                raw("female"),
		"birth_province":     raw("79"),
		"residence_province": raw("01"),
		"ethnicity":          raw("Kinh"),
		"phones":             json.RawMessage(`["0901234567","0912345678"]`),
	}
	with := func(r rec, field, value string) rec {
		out := rec{}
		for k, v := range r {
			out[k] = v
		}
		if value == "" {
			delete(out, field)
		} else {
			out[field] = json.RawMessage(value)
		}
		return out
	}
	business := rec{
		"name":               raw("Công ty TNHH Phần mềm Sông Hồng"),
		"legal_form":         raw("llc"),
		"registered_capital": raw("1500000000.00"),
		"established":        raw("2019-03-01"),
		"province":           raw("01"),
		"address":            raw("12 Tràng Tiền, Hoàn Kiếm, Hà Nội"),
		"industries":         json.RawMessage(`["6201","6202"]`),
		"employees":          json.RawMessage(`42`),
		"active":             json.RawMessage(`true`),
		"updated_at":         raw("2025-07-01T08:30:00+07:00"),
	}
	parcel := rec{
		"commune_code":   raw("26734"),
		"area_m2":        raw("125.50"),
		"land_use":       raw("residential"),
		"owner_ids":      json.RawMessage(`["079190012345"]`),
		"certificate_no": raw("CS01234"),
		"geometry":       json.RawMessage(`{"type":"Polygon","coordinates":[[[106.7,10.77],[106.71,10.77],[106.71,10.78],[106.7,10.77]]]}`),
		"registered_at":  raw("2021-11-02T09:00:00Z"),
	}
	for _, tc := range []struct {
		name, typ, dataset, key string
		fields                  rec
		partial                 bool
		field, rule             string
	}{
		{"citizen identity", "citizen", "population.identity", "079190012345", citizen, false, "", ""},
		{"citizen insurance", "citizen", "health.insurance", "079190012345", rec{"insurance_number": raw("DN4797912345678"), "insurance_expiry": raw("2026-12-31"), "clinic_visits": json.RawMessage(`3`)}, false, "", ""},
		{"citizen insurance patch", "citizen", "health.insurance", "079190012345", rec{"clinic_visits": json.RawMessage(`1`)}, true, "", ""},
		{"business", "business", "business.registration", "0101234567", business, false, "", ""},
		{"business branch", "business", "business.registration", "0101234567-001", with(business, "address", ""), false, "", ""},
		{"land parcel", "land_parcel", "land.79", "79-26734-12-345", parcel, false, "", ""},
		{"land parcel hanoi", "land_parcel", "land.01", "01-00004-1-7", parcel, false, "", ""},

		{"citizen bad key", "citizen", "population.identity", "07919001234", citizen, false, "", "key_pattern"},
		{"citizen bad date", "citizen", "population.identity", "079190012345", with(citizen, "birth_date", `"1990-13-01"`), false, "birth_date", "date"},
		{"citizen bad sex", "citizen", "population.identity", "079190012345", with(citizen, "sex", `"f"`), false, "sex", "enum"},
		{"citizen no name", "citizen", "population.identity", "079190012345", with(citizen, "full_name", ""), false, "full_name", "required"},
		{"citizen empty name", "citizen", "population.identity", "079190012345", with(citizen, "full_name", `""`), false, "full_name", "min_length"},
		{"citizen clear name", "citizen", "population.identity", "079190012345", rec{"full_name": json.RawMessage(`null`)}, true, "full_name", "required"},
		{"citizen bad phone", "citizen", "population.identity", "079190012345", with(citizen, "phones", `["901234567"]`), false, "phones", "pattern"},
		{"citizen too many phones", "citizen", "population.identity", "079190012345", with(citizen, "phones", `["0900000001","0900000002","0900000003","0900000004","0900000005","0900000006"]`), false, "phones", "max_items"},
		{"citizen insurance via identity", "citizen", "population.identity", "079190012345", with(citizen, "insurance_number", `"DN4797912345678"`), false, "insurance_number", "not_in_dataset"},
		{"citizen insurance missing", "citizen", "health.insurance", "079190012345", rec{"clinic_visits": json.RawMessage(`1`)}, false, "insurance_number", "required"},
		{"citizen bad insurance", "citizen", "health.insurance", "079190012345", rec{"insurance_number": raw("dn4797912345678")}, true, "insurance_number", "pattern"},
		{"citizen fractional visits", "citizen", "health.insurance", "079190012345", rec{"clinic_visits": json.RawMessage(`1.5`)}, true, "clinic_visits", "type"},
		{"citizen unknown", "citizen", "population.identity", "079190012345", with(citizen, "nickname", `"Bi"`), false, "nickname", "unknown_field"},
		{"business capital number", "business", "business.registration", "0101234567", with(business, "registered_capital", `1500000000`), false, "registered_capital", "type"},
		{"business negative capital", "business", "business.registration", "0101234567", with(business, "registered_capital", `"-1"`), false, "registered_capital", "min"},
		{"business bad form", "business", "business.registration", "0101234567", with(business, "legal_form", `"LLC"`), false, "legal_form", "enum"},
		{"business bad industry", "business", "business.registration", "0101234567", with(business, "industries", `["62010"]`), false, "industries", "pattern"},
		{"business bad time", "business", "business.registration", "0101234567", with(business, "updated_at", `"2025-07-01 08:30"`), false, "updated_at", "datetime"},
		{"business negative staff", "business", "business.registration", "0101234567", with(business, "employees", `-3`), false, "employees", "min"},
		{"business bad key", "business", "business.registration", "0101234567-01", business, false, "", "key_pattern"},
		{"parcel bad area", "land_parcel", "land.79", "79-26734-12-345", with(parcel, "area_m2", `"12,5"`), false, "area_m2", "decimal"},
		{"parcel bad geometry", "land_parcel", "land.79", "79-26734-12-345", with(parcel, "geometry", `{"type":"Point"}`), false, "geometry", "schema"},
		{"parcel bad use", "land_parcel", "land.79", "79-26734-12-345", with(parcel, "land_use", `"farm"`), false, "land_use", "enum"},
		{"parcel key with slash", "land_parcel", "land.79", "79/26734", parcel, false, "", "key_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, d := vs[tc.typ], ds[tc.dataset]
			if v == nil || d == nil {
				t.Fatalf("no type %s or dataset %s", tc.typ, tc.dataset)
			}
			err := v.Key(tc.key)
			if err == nil {
				if !d.HasKey(tc.key) {
					t.Fatalf("key %s is not in dataset %s", tc.key, d.Name)
				}
				err = v.Record(d, tc.fields, tc.partial)
			}
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *dict.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want rule %s", err, tc.rule)
			}
			if e.Rule != tc.rule || e.Field != tc.field {
				t.Fatalf("got field %q rule %q (%s), want field %q rule %q", e.Field, e.Rule, e.Message, tc.field, tc.rule)
			}
			t.Log(e.Message)
		})
	}
}
