package dict

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// testTypeJSON has a field of every type with every constraint.
const testTypeJSON = `{
  "name": "thing",
  "version": 1,
  "key": {"pattern": "^[a-z]{2}[0-9]{3}$", "description": "two letters and three digits"},
  "fields": {
    "s":    {"type": "string", "pattern": "^[A-Z]+$", "min_length": 2, "max_length": 5},
    "u":    {"type": "string", "max_length": 3},
    "i":    {"type": "integer", "min": -10, "max": 100},
    "n":    {"type": "integer"},
    "d":    {"type": "decimal", "min": 0, "max": 1000.5},
    "dn":   {"type": "decimal"},
    "df":   {"type": "decimal", "min": 0.1, "max": 0.3},
    "if":   {"type": "integer", "min": 0.5},
    "b":    {"type": "boolean"},
    "dt":   {"type": "date"},
    "ts":   {"type": "datetime"},
    "e":    {"type": "enum", "values": ["a", "b"]},
    "tags": {"type": "set", "pattern": "^[a-z]+$", "min_length": 2, "max_length": 4, "max_items": 3},
    "free": {"type": "set"},
    "c":    {"type": "counter"},
    "o":    {"type": "object", "schema": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}, "additionalProperties": false}},
    "any":  {"type": "object"},
    "req":  {"type": "string", "required": true},
    "req2": {"type": "integer", "required": true}
  }
}`

func testValidator(t testing.TB) *Validator {
	t.Helper()
	et, err := ParseEntityType([]byte(testTypeJSON))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Compile(et)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantRule fails unless err is an *Error with the given field and rule, or
// nil when rule is "".
func wantRule(t *testing.T, err error, field, rule string) {
	t.Helper()
	if rule == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *Error with rule %q", err, err, rule)
	}
	if e.Rule != rule || e.Field != field {
		t.Fatalf("got field %q rule %q (%s), want field %q rule %q", e.Field, e.Rule, e.Message, field, rule)
	}
	if e.Message == "" || e.Error() != e.Message {
		t.Fatalf("bad message %q", e.Message)
	}
	if field != "" && !strings.Contains(e.Message, `"`+field+`"`) {
		t.Errorf("message %q does not name field %q", e.Message, field)
	}
	t.Log(e.Message)
}

var valueCases = []struct {
	field, raw, rule string
}{
	// string
	{"s", `"ABC"`, ""},
	{"s", ` "ABCDE" `, ""},
	{"s", `"abc"`, RulePattern},
	{"s", `"A"`, RuleMinLength},
	{"s", `"ABCDEF"`, RuleMaxLength},
	{"s", `12`, RuleType},
	{"s", `["AB"]`, RuleType},
	{"u", `"ắằẳ"`, ""}, // length in characters, not bytes
	{"u", `"ắằẳẵ"`, RuleMaxLength},
	{"u", `""`, ""},
	// integer
	{"i", `0`, ""},
	{"i", `-10`, ""},
	{"i", `100`, ""},
	{"i", `-11`, RuleMin},
	{"i", `101`, RuleMax},
	{"i", `1.0`, RuleType},
	{"i", `1e3`, RuleType},
	{"i", `1E1`, RuleType},
	{"i", `"5"`, RuleType},
	{"i", `true`, RuleType},
	{"n", `9223372036854775807`, ""},
	{"n", `-9223372036854775808`, ""},
	{"n", `9223372036854775808`, RuleType},
	{"n", `-9223372036854775809`, RuleType},
	{"n", `-0`, ""},
	// decimal
	{"d", `"1250.50"`, RuleMax},
	{"d", `"1000.5"`, ""},
	{"d", `"1000.50000000000000000001"`, RuleMax},
	{"d", `"0"`, ""},
	{"d", `"0.00"`, ""},
	{"d", `"-0.01"`, RuleMin},
	{"d", `"12,5"`, RuleDecimal},
	{"d", `"1e3"`, RuleDecimal},
	{"d", `".5"`, RuleDecimal},
	{"d", `"5."`, RuleDecimal},
	{"d", `""`, RuleDecimal},
	{"d", `12.5`, RuleType},
	{"dn", `"-123456789012345678901234567890.123456789"`, ""},
	{"dn", `null`, RuleType},
	{"df", `"0.1"`, ""},
	{"df", `"0.3"`, ""},
	{"df", `"0.0999999999999999999999"`, RuleMin},
	{"df", `"0.3000000000000000000001"`, RuleMax},
	{"if", `1`, ""},
	{"if", `0`, RuleMin},
	// boolean
	{"b", `true`, ""},
	{"b", `false`, ""},
	{"b", `"true"`, RuleType},
	{"b", `1`, RuleType},
	// date
	{"dt", `"1990-02-28"`, ""},
	{"dt", `"2024-02-29"`, ""},
	{"dt", `"2023-02-29"`, RuleDate},
	{"dt", `"1990-13-01"`, RuleDate},
	{"dt", `"1990-1-01"`, RuleDate},
	{"dt", `"01/02/1990"`, RuleDate},
	{"dt", `"1990-01-01T00:00:00Z"`, RuleDate},
	{"dt", `19900101`, RuleType},
	// datetime
	{"ts", `"2025-07-01T08:30:00+07:00"`, ""},
	{"ts", `"2025-07-01T01:30:00.123Z"`, ""},
	{"ts", `"2025-07-01 08:30:00"`, RuleDateTime},
	{"ts", `"2025-07-01"`, RuleDateTime},
	{"ts", `"2025-07-01T25:00:00Z"`, RuleDateTime},
	{"ts", `"2025-07-01T08:30:00"`, RuleDateTime},
	{"ts", `1751330000`, RuleType},
	{"ts", `"2025-07-01t08:30:00z"`, RuleDateTime},
	{"ts", `"2016-12-31T23:59:60Z"`, RuleDateTime},
	{"ts", `"2025-07-01T08:30:00.123456789-01:30"`, ""},
	{"ts", `"2025-07-01T08:30:00+0700"`, RuleDateTime},
	// enum
	{"e", `"a"`, ""},
	{"e", `"c"`, RuleEnum},
	{"e", `"A"`, RuleEnum},
	{"e", `1`, RuleType},
	// set
	{"tags", `[]`, ""},
	{"tags", `["ab","cde"]`, ""},
	{"tags", `["ab","ab"]`, RuleUniqueItems},
	{"tags", `["ab","cd","ef","gh"]`, RuleMaxItems},
	{"tags", `["AB"]`, RulePattern},
	{"tags", `["a"]`, RuleMinLength},
	{"tags", `["abcde"]`, RuleMaxLength},
	{"tags", `["ab",1]`, RuleType},
	{"tags", `"ab"`, RuleType},
	{"tags", `{"ab":true}`, RuleType},
	{"free", `["", "x", "Y"]`, ""},
	// counter
	{"c", `0`, ""},
	{"c", `-5`, ""},
	{"c", `9223372036854775807`, ""},
	{"c", `9223372036854775808`, RuleType},
	{"c", `1.5`, RuleType},
	{"c", `"1"`, RuleType},
	// object
	{"o", `{"x":1}`, ""},
	{"o", `{}`, RuleSchema},
	{"o", `{"x":"1"}`, RuleSchema},
	{"o", `{"x":1,"y":2}`, RuleSchema},
	{"o", `[1]`, RuleType},
	{"o", `"x"`, RuleType},
	{"any", `{"a":{"b":[1,2,{"c":null}]}}`, ""},
	{"any", `[]`, RuleType},
	// not values
	{"s", `null`, RuleType},
	{"s", ``, RuleType},
	{"s", `"AB" "CD"`, RuleType},
	{"s", `{`, RuleType},
	{"nope", `1`, RuleUnknownField},
}

func TestValue(t *testing.T) {
	v := testValidator(t)
	for _, tc := range valueCases {
		t.Run(tc.field+"="+tc.raw, func(t *testing.T) {
			wantRule(t, v.Value(tc.field, json.RawMessage(tc.raw)), tc.field, tc.rule)
		})
	}
}

func TestMessages(t *testing.T) {
	et, err := ParseEntityType([]byte(`{"name":"citizen","version":1,"key":{"pattern":"^[0-9]{12}$"},
		"fields":{"birth_date":{"type":"date"},"phones":{"type":"set","pattern":"^0[0-9]{9}$"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Compile(et)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{v.Value("birth_date", json.RawMessage(`"1990-13-01"`)), `field "birth_date": "1990-13-01" is not a date (YYYY-MM-DD)`},
		{v.Value("phones", json.RawMessage(`["0901234567","123"]`)), `field "phones": element "123" does not match the pattern ^0[0-9]{9}$`},
		{v.Element("phones", "123"), `field "phones": element "123" does not match the pattern ^0[0-9]{9}$`},
		{v.Key("12345"), `key "12345" does not match the citizen key pattern ^[0-9]{12}$ (key_pattern)`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", tc.err, tc.want)
		}
	}
}

func TestElement(t *testing.T) {
	v := testValidator(t)
	for _, tc := range []struct{ field, elem, rule string }{
		{"tags", "abc", ""},
		{"tags", "ABC", RulePattern},
		{"tags", "a", RuleMinLength},
		{"tags", "abcde", RuleMaxLength},
		{"free", "", ""},
		{"s", "AB", RuleType},
		{"nope", "x", RuleUnknownField},
	} {
		t.Run(tc.field+"="+tc.elem, func(t *testing.T) {
			wantRule(t, v.Element(tc.field, tc.elem), tc.field, tc.rule)
		})
	}
}

func TestKey(t *testing.T) {
	v := testValidator(t)
	for _, tc := range []struct{ key, rule string }{
		{"ab123", ""},
		{"ab12", RuleKeyPattern},
		{"AB123", RuleKeyPattern},
		{"xab123", RuleKeyPattern},
		{"", RuleKeyInvalid},
		{"ab/12", RuleKeyInvalid},
		{"ab\x0012", RuleKeyInvalid},
		{"ab\n123", RuleKeyInvalid},
		{"ab\u0085123", RuleKeyInvalid},
		{"ab\xff123", RuleKeyInvalid},
		{strings.Repeat("a", MaxKeyBytes+1), RuleKeyInvalid},
	} {
		t.Run(tc.key, func(t *testing.T) {
			wantRule(t, v.Key(tc.key), "", tc.rule)
		})
	}
	// The key rules apply whatever the pattern says.
	et := &EntityType{Name: "t", Version: 1, Key: KeySpec{Pattern: "."}, Fields: map[string]Field{"f": {Type: String}}}
	lax, err := Compile(et)
	if err != nil {
		t.Fatal(err)
	}
	wantRule(t, lax.Key(strings.Repeat("a", MaxKeyBytes)), "", "")
	wantRule(t, lax.Key("a/b"), "", RuleKeyInvalid)
}

func TestRecord(t *testing.T) {
	v := testValidator(t)
	ds := &Dataset{Name: "things.main", EntityType: "thing", Fields: []string{"s", "i", "e", "tags", "req", "o"}, Owner: "a", OwnerEpoch: 1}
	type rec = map[string]json.RawMessage
	for _, tc := range []struct {
		name    string
		fields  rec
		partial bool
		field   string
		rule    string
	}{
		{"put ok", rec{"req": json.RawMessage(`"x"`), "s": json.RawMessage(`"AB"`)}, false, "", ""},
		{"put clears optional", rec{"req": json.RawMessage(`"x"`), "s": json.RawMessage(`null`)}, false, "", ""},
		{"put missing required", rec{"s": json.RawMessage(`"AB"`)}, false, "req", RuleRequired},
		{"put null required", rec{"req": json.RawMessage(`null`)}, false, "req", RuleRequired},
		{"put empty", rec{}, false, "req", RuleRequired},
		{"required not in dataset is not needed", rec{"req": json.RawMessage(`"x"`)}, false, "", ""},
		{"patch without required", rec{"s": json.RawMessage(`"AB"`)}, true, "", ""},
		{"patch empty", rec{}, true, "", ""},
		{"patch null required", rec{"req": json.RawMessage(` null `)}, true, "req", RuleRequired},
		{"patch null optional", rec{"i": json.RawMessage(`null`)}, true, "", ""},
		{"unknown field", rec{"zzz": json.RawMessage(`1`)}, true, "zzz", RuleUnknownField},
		{"not in dataset", rec{"b": json.RawMessage(`true`)}, true, "b", RuleNotInDataset},
		{"not in dataset even null", rec{"b": json.RawMessage(`null`)}, true, "b", RuleNotInDataset},
		{"not in dataset required", rec{"req2": json.RawMessage(`1`)}, true, "req2", RuleNotInDataset},
		{"bad value", rec{"req": json.RawMessage(`"x"`), "i": json.RawMessage(`1000`)}, false, "i", RuleMax},
		{"bad set", rec{"tags": json.RawMessage(`["ab","ab"]`)}, true, "tags", RuleUniqueItems},
		{"bad object", rec{"o": json.RawMessage(`{}`)}, true, "o", RuleSchema},
		// Sorted order decides which error comes first.
		{"first error sorted", rec{"s": json.RawMessage(`"x"`), "i": json.RawMessage(`"x"`), "zzz": json.RawMessage(`1`), "b": json.RawMessage(`1`)}, true, "b", RuleNotInDataset},
		{"first error sorted 2", rec{"s": json.RawMessage(`"x"`), "i": json.RawMessage(`"x"`), "zzz": json.RawMessage(`1`)}, true, "i", RuleType},
		{"missing required sorts too", rec{"s": json.RawMessage(`"x"`), "e": json.RawMessage(`"z"`)}, false, "e", RuleEnum},
		{"missing required before later field", rec{"s": json.RawMessage(`"x"`)}, false, "req", RuleRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 5 { // map order must not matter
				wantRule(t, v.Record(ds, tc.fields, tc.partial), tc.field, tc.rule)
			}
		})
	}
	other := &Dataset{Name: "x", EntityType: "other", Fields: []string{"s"}, Owner: "a", OwnerEpoch: 1}
	err := v.Record(other, map[string]json.RawMessage{}, false)
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Errorf("dataset of another type: got %v", err)
	}
	if err := v.Record(nil, nil, true); err == nil {
		t.Error("nil dataset: no error")
	}
}

func TestCompileChecks(t *testing.T) {
	if _, err := Compile(&EntityType{Name: "t", Version: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	v := testValidator(t)
	if v.Type().Name != "thing" {
		t.Fatalf("Type: %v", v.Type().Name)
	}
}

func TestValidatorConcurrent(t *testing.T) {
	v := testValidator(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				for _, tc := range valueCases {
					err := v.Value(tc.field, json.RawMessage(tc.raw))
					if (err == nil) != (tc.rule == "") {
						t.Errorf("%s=%s: %v", tc.field, tc.raw, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestShowTruncates(t *testing.T) {
	v := testValidator(t)
	long := `"` + strings.Repeat("ắ", 200) + `"`
	err := v.Value("u", json.RawMessage(long))
	var e *Error
	if !errors.As(err, &e) || len(e.Message) > 200 {
		t.Fatalf("got %v", err)
	}
}
