package dict

import (
	"errors"
	"strings"
	"testing"
)

const validDatasetJSON = `{"name":"land.79","entity_type":"thing","fields":["s","i"],"key_prefix":"ab","owner":"hcm","owner_epoch":1,"readers":["mae","moh"]}`

func TestParseDataset(t *testing.T) {
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"valid", validDatasetJSON, ""},
		{"no prefix no readers", `{"name":"reference.communes","entity_type":"commune","fields":["name"],"owner":"ndc","owner_epoch":3}`, ""},
		{"empty readers", `{"name":"r","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1,"readers":[]}`, ""},
		{"unknown key", `{"name":"r","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1,"reader":[]}`, `unknown field "reader"`},
		{"trailing", validDatasetJSON + `,`, "after the JSON value"},
		{"duplicate key", `{"name":"r","name":"s","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1}`, `duplicate key "name"`},
		{"bad name upper", `{"name":"Land.79","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1}`, `dataset name "Land.79"`},
		{"bad name empty part", `{"name":"land..79","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1}`, `dataset name "land..79"`},
		{"bad name leading digit", `{"name":"79.land","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1}`, `dataset name`},
		{"name too long", `{"name":"` + strings.Repeat("a", 129) + `","entity_type":"c","fields":["name"],"owner":"ndc","owner_epoch":1}`, `at most 128 bytes`},
		{"bad entity type", `{"name":"r","entity_type":"C","fields":["name"],"owner":"ndc","owner_epoch":1}`, `entity_type "C"`},
		{"no fields", `{"name":"r","entity_type":"c","fields":[],"owner":"ndc","owner_epoch":1}`, "needs at least one field"},
		{"duplicate field", `{"name":"r","entity_type":"c","fields":["a","a"],"owner":"ndc","owner_epoch":1}`, `field "a" is listed twice`},
		{"bad field", `{"name":"r","entity_type":"c","fields":["A"],"owner":"ndc","owner_epoch":1}`, `field name "A"`},
		{"prefix with slash", `{"name":"r","entity_type":"c","fields":["a"],"key_prefix":"7/","owner":"ndc","owner_epoch":1}`, `key_prefix "7/" contains '/'`},
		{"prefix with NUL", `{"name":"r","entity_type":"c","fields":["a"],"key_prefix":"7\u0000","owner":"ndc","owner_epoch":1}`, `control character`},
		{"bad owner", `{"name":"r","entity_type":"c","fields":["a"],"owner":"NDC","owner_epoch":1}`, `owner "NDC"`},
		{"no owner", `{"name":"r","entity_type":"c","fields":["a"],"owner_epoch":1}`, `owner ""`},
		{"negative epoch", `{"name":"r","entity_type":"c","fields":["a"],"owner":"ndc","owner_epoch":-1}`, "dataset: json"},
		{"owner is reader", `{"name":"r","entity_type":"c","fields":["a"],"owner":"ndc","owner_epoch":1,"readers":["ndc"]}`, `owner "ndc" must not be listed as a reader`},
		{"duplicate reader", `{"name":"r","entity_type":"c","fields":["a"],"owner":"ndc","owner_epoch":1,"readers":["moh","moh"]}`, `reader "moh" is listed twice`},
		{"bad reader", `{"name":"r","entity_type":"c","fields":["a"],"owner":"ndc","owner_epoch":1,"readers":["-x"]}`, `reader "-x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDataset([]byte(tc.doc))
			if tc.wantErr == "" {
				if err != nil || d == nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %q, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDatasetCheck(t *testing.T) {
	et, err := ParseEntityType([]byte(testTypeJSON)) // key ^[a-z]{2}[0-9]{3}$
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		edit    func(d *Dataset)
		wantErr string
	}{
		{"valid", func(*Dataset) {}, ""},
		{"no prefix", func(d *Dataset) { d.KeyPrefix = "" }, ""},
		{"whole key as prefix", func(d *Dataset) { d.KeyPrefix = "ab123" }, ""},
		{"prefix too long for keys", func(d *Dataset) { d.KeyPrefix = "ab1234" }, "no key of entity type thing can start with"},
		{"prefix wrong shape", func(d *Dataset) { d.KeyPrefix = "a1" }, "no key of entity type thing can start with"},
		{"prefix upper", func(d *Dataset) { d.KeyPrefix = "AB" }, "no key of entity type thing can start with"},
		{"unknown field", func(d *Dataset) { d.Fields = append(d.Fields, "zzz") }, `field "zzz" is not a field of entity type thing`},
		{"other type", func(d *Dataset) { d.EntityType = "other" }, `is of entity type "other"`},
		{"syntax rechecked", func(d *Dataset) { d.Owner = "Bad Owner" }, "owner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDataset([]byte(validDatasetJSON))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(d)
			err = d.Check(et)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
	d, _ := ParseDataset([]byte(validDatasetJSON))
	if err := d.Check(nil); err == nil {
		t.Error("Check(nil): no error")
	}
}

func TestPrefixPossible(t *testing.T) {
	for _, tc := range []struct {
		pattern, prefix string
		want            bool
	}{
		{`^[0-9]{2}-[0-9]{5}-[0-9]{1,4}-[0-9]{1,5}$`, "79-", true},
		{`^[0-9]{2}-[0-9]{5}-[0-9]{1,4}-[0-9]{1,5}$`, "79-26734-", true},
		{`^[0-9]{2}-[0-9]{5}-[0-9]{1,4}-[0-9]{1,5}$`, "79_", false},
		{`^[0-9]{2}-[0-9]{5}-[0-9]{1,4}-[0-9]{1,5}$`, "799", false},
		{`^[0-9]{12}$`, "0790", true},
		{`^[0-9]{12}$`, "0123456789012", false},
		{`^[0-9]{10}(-[0-9]{3})?$`, "0101234567-", true},
		{`^[0-9]{10}(-[0-9]{3})?$`, "0101234567-1234", false},
		{`^(ab|cd)x$`, "c", true},
		{`^(ab|cd)x$`, "ac", false},
		{`^ắ+$`, "ắắ", true},
		{`^ắ+$`, "ắa", false},
		{`(?i)^ab$`, "A", true},
		{`^a`, "abcdef", true},    // a match ends inside the prefix
		{`^a$`, "ab", false},      // ... but only at the end of text
		{`[0-9]{3}$`, "zz", true}, // unanchored at the start
		{`^$`, "a", false},        // only the empty key
		{`^a\b`, "ab", true},      // other assertions are assumed to hold
	} {
		t.Run(tc.pattern+"|"+tc.prefix, func(t *testing.T) {
			got, err := prefixPossible(tc.pattern, tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDatasetPredicates(t *testing.T) {
	d := &Dataset{Name: "land.79", EntityType: "land_parcel", Fields: []string{"area_m2", "land_use"},
		KeyPrefix: "79-", Owner: "hcm", OwnerEpoch: 1, Readers: []string{"mae"}}
	if !d.Covers("area_m2") || d.Covers("geometry") {
		t.Error("Covers")
	}
	if !d.CanRead("hcm") || !d.CanRead("mae") || d.CanRead("moh") || d.CanRead("") {
		t.Error("CanRead")
	}
	if !d.HasKey("79-26734-1-2") || d.HasKey("01-00001-1-2") || d.HasKey("79") {
		t.Error("HasKey")
	}
	all := &Dataset{Name: "x", EntityType: "t", Fields: []string{"f"}, Owner: "a", OwnerEpoch: 1}
	if !all.HasKey("anything") {
		t.Error("HasKey without prefix")
	}
	for _, tc := range []struct {
		name string
		a, b Dataset
		want bool
	}{
		{"same fields no prefix", Dataset{EntityType: "c", Fields: []string{"a", "b"}}, Dataset{EntityType: "c", Fields: []string{"b"}}, true},
		{"disjoint fields", Dataset{EntityType: "c", Fields: []string{"a"}}, Dataset{EntityType: "c", Fields: []string{"b"}}, false},
		{"other type", Dataset{EntityType: "c", Fields: []string{"a"}}, Dataset{EntityType: "d", Fields: []string{"a"}}, false},
		{"disjoint prefixes", Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-"}, Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "01-"}, false},
		{"nested prefixes", Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-"}, Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-267"}, true},
		{"nested prefixes reversed", Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-267"}, Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-"}, true},
		{"all keys and a prefix", Dataset{EntityType: "l", Fields: []string{"a"}}, Dataset{EntityType: "l", Fields: []string{"a"}, KeyPrefix: "79-"}, true},
		{"prefix but disjoint fields", Dataset{EntityType: "l", Fields: []string{"a"}}, Dataset{EntityType: "l", Fields: []string{"b"}, KeyPrefix: "79-"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Overlaps(&tc.a, &tc.b); got != tc.want {
				t.Fatalf("Overlaps = %v, want %v", got, tc.want)
			}
			if got := Overlaps(&tc.b, &tc.a); got != tc.want {
				t.Fatalf("Overlaps reversed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidMemberName(t *testing.T) {
	for s, want := range map[string]bool{
		"mps": true, "hcm": true, "0a": true, "a-b_c": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "_a": false, "A": false, "a.b": false, strings.Repeat("a", 64): false,
	} {
		if got := ValidMemberName(s); got != want {
			t.Errorf("ValidMemberName(%q) = %v", s, got)
		}
	}
}

// FuzzParseDataset checks that ParseDataset never panics and that what it
// accepts passes its own syntactic check again.
func FuzzParseDataset(f *testing.F) {
	f.Add([]byte(validDatasetJSON))
	f.Add([]byte(`{"name":"r","entity_type":"c","fields":["a"],"owner":"ndc","owner_epoch":1,"readers":["moh","moh"]}`))
	f.Add([]byte(`{"name":"r","entity_type":"c","fields":["a"],"key_prefix":"7/","owner":"ndc","owner_epoch":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDataset(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := d.checkSyntax(); err != nil {
			t.Fatal(err)
		}
		if !d.CanRead(d.Owner) || !Overlaps(d, d) {
			t.Fatal("a dataset must be readable by its owner and overlap itself")
		}
	})
}
