package dict

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// parseCases are entity type documents with the error ParseEntityType must
// give ("" for none). They also seed FuzzParseEntityType.
var parseCases = []struct {
	name    string
	doc     string
	wantErr string // substring of the error; "" means valid
}{
	{"minimal", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}}`, ""},
	{"every type", testTypeJSON, ""},
	{"unknown top-level key", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}},"extra":1}`, `unknown field "extra"`},
	{"unknown field key", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","minlen":1}}}`, `unknown field "minlen"`},
	{"trailing garbage", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}} x`, "after the JSON value"},
	{"two values", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}}{}`, "after the JSON value"},
	{"duplicate field", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"},"f":{"type":"integer"}}}`, `duplicate key "f" in /fields`},
	{"not json", `{"name":`, "entity type:"},
	{"empty", ``, "entity type:"},
	{"bad name", `{"name":"Citizen","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}}`, `entity type name "Citizen"`},
	{"version 0", `{"name":"t","version":0,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}}`, "version must be at least 1"},
	{"no key pattern", `{"name":"t","version":1,"key":{},"fields":{"f":{"type":"string"}}}`, `key needs a "pattern"`},
	{"bad key regexp", `{"name":"t","version":1,"key":{"pattern":"^(a$"},"fields":{"f":{"type":"string"}}}`, "key pattern \"^(a$\" is not a valid Go (RE2) regular expression"},
	{"perl lookahead", `{"name":"t","version":1,"key":{"pattern":"^(?=a)"},"fields":{"f":{"type":"string"}}}`, "not a valid Go (RE2)"},
	{"no fields", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{}}`, "needs at least one field"},
	{"bad field name", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"Full":{"type":"string"}}}`, `field name "Full"`},
	{"no type", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{}}}`, `field "f": needs a "type"`},
	{"unknown type", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"float"}}}`, `field "f": unknown type "float"`},
	{"bad field regexp", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","pattern":"[a-"}}}`, `field "f": pattern "[a-" is not a valid`},
	{"pattern on integer", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"integer","pattern":"a"}}}`, `field "f": "pattern" does not apply to type integer`},
	{"min_length on integer", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"integer","min_length":1}}}`, `field "f": "min_length" does not apply to type integer`},
	{"max_length on date", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"date","max_length":1}}}`, `"max_length" does not apply to type date`},
	{"min on string", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","min":1}}}`, `"min" does not apply to type string`},
	{"max on counter", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"counter","max":1}}}`, `"max" does not apply to type counter`},
	{"values on string", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","values":["a"]}}}`, `"values" does not apply to type string`},
	{"max_items on string", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","max_items":1}}}`, `"max_items" does not apply to type string`},
	{"schema on string", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","schema":{}}}}`, `"schema" does not apply to type string`},
	{"negative min_length", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","min_length":-1}}}`, "min_length must not be negative"},
	{"zero max_length", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"string","max_length":0}}}`, "max_length must be at least 1"},
	{"min_length > max_length", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"set","min_length":5,"max_length":4}}}`, "min_length 5 is greater than max_length 4"},
	{"min > max", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"decimal","min":5,"max":4.5}}}`, "min 5 is greater than max 4.5"},
	{"enum without values", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"sex":{"type":"enum"}}}`, `dict: field "sex": enum needs "values"`},
	{"enum empty values", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"enum","values":[]}}}`, `enum needs "values"`},
	{"enum duplicate", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"enum","values":["a","a"]}}}`, `enum value "a" is listed twice`},
	{"enum empty value", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"enum","values":[""]}}}`, "enum values must not be empty"},
	{"zero max_items", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"set","max_items":0}}}`, "max_items must be at least 1"},
	{"schema not object", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"object","schema":[1]}}}`, "schema must be a JSON object"},
	{"schema bad keyword value", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"object","schema":{"type":"nope"}}}}`, "schema does not compile"},
	{"schema bad regexp", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"object","schema":{"properties":{"x":{"pattern":"(?<=a)"}}}}}}`, "schema does not compile"},
	{"schema external ref", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"object","schema":{"$ref":"file:///etc/passwd"}}}}`, "schema does not compile"},
	{"schema boolean", `{"name":"t","version":1,"key":{"pattern":"^a$"},"fields":{"f":{"type":"object","schema":true}}}`, ""},
	{"version as string", `{"name":"t","version":"1","key":{"pattern":"^a$"},"fields":{"f":{"type":"string"}}}`, "entity type: json"},
}

func TestParseEntityType(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			et, err := ParseEntityType([]byte(tc.doc))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if et == nil || et.Name == "" {
					t.Fatalf("got %+v", et)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "dict: ") {
				t.Errorf("error %q lacks the dict: prefix", err)
			}
		})
	}
}

func TestFieldTypeValid(t *testing.T) {
	for _, ft := range []FieldType{String, Integer, Decimal, Boolean, Date, DateTime, Enum, Set, Counter, Object} {
		if !ft.Valid() {
			t.Errorf("%s: not valid", ft)
		}
	}
	for _, ft := range []FieldType{"", "float", "String", "array"} {
		if ft.Valid() {
			t.Errorf("%q: valid", ft)
		}
	}
}

func TestCheckNil(t *testing.T) {
	var et *EntityType
	if err := et.Check(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckNonFinite(t *testing.T) {
	inf := math.Inf(1)
	et := &EntityType{Name: "t", Version: 1, Key: KeySpec{Pattern: "^a$"},
		Fields: map[string]Field{"f": {Type: Decimal, Max: &inf}}}
	if err := et.Check(); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("got %v", err)
	}
}

// FuzzParseEntityType checks that ParseEntityType never panics, that what it
// accepts compiles, and that a parsed type is Compatible with itself.
func FuzzParseEntityType(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		et, err := ParseEntityType(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if _, err := Compile(et); err != nil {
			t.Fatalf("parsed but does not compile: %v", err)
		}
		if err := Compatible(et, et); err != nil {
			t.Fatalf("not compatible with itself: %v", err)
		}
	})
}
