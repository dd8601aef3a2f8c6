package dict

import (
	"testing"
)

// fastTypes is one field of every type the fast path decides, with bounds.
func fastTypes(t testing.TB) *Validator {
	one, five, hundred := 1, 5, 100
	lo, hi := -5.0, 1e12
	v, err := Compile(&EntityType{
		Name: "fast", Version: 1,
		Key: KeySpec{Pattern: `^[0-9]+$`},
		Fields: map[string]Field{
			"name":    {Type: String, MinLength: &one, MaxLength: &hundred},
			"code":    {Type: String, Pattern: `^[0-9]{2}$`},
			"sex":     {Type: Enum, Values: []string{"male", "female"}},
			"born":    {Type: Date},
			"alive":   {Type: Boolean},
			"age":     {Type: Integer, Min: &lo, Max: &hi},
			"visits":  {Type: Counter},
			"phones":  {Type: Set, Pattern: `^0[0-9]{9}$`, MaxItems: &five},
			"tags":    {Type: Set, MaxLength: &five},
			"income":  {Type: Decimal},
			"updated": {Type: DateTime},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFastPathTaken: plain valid values are decided by the fast path (so
// that it is not dead), invalid ones never are.
func TestFastPathTaken(t *testing.T) {
	v := fastTypes(t)
	for _, c := range []struct {
		field, raw string
		fast       bool
	}{
		{"name", `"Nguyễn Văn An"`, true},
		{"name", ` "An" `, true},
		{"name", `""`, false},
		{"name", `"An\""`, false}, // an escape: the full check decides
		{"code", `"79"`, true},
		{"code", `"799"`, false},
		{"sex", `"female"`, true},
		{"sex", `"other"`, false},
		{"born", `"2000-02-29"`, true},
		{"born", `"2001-02-29"`, false},
		{"alive", `true`, true},
		{"alive", `"true"`, false},
		{"age", `42`, true},
		{"age", `-6`, false},
		{"age", `042`, false},
		{"age", `1e2`, false},
		{"age", `1000000000001`, false},
		{"visits", `-3`, true},
		{"phones", `["0901234567", "0912345678"]`, true},
		{"phones", `[]`, true},
		{"phones", `["0901234567","0901234567"]`, false},
		{"phones", `["0901234567",]`, false},
		{"phones", `["1"]`, false},
		{"tags", `["a","b","c","d","e","f"]`, true},
		{"tags", `["abcdef"]`, false},
		{"income", `"12.5"`, false}, // no fast path
		{"updated", `"2025-07-01T08:30:00Z"`, false},
	} {
		fv := v.fields[c.field]
		if got := fv.fast([]byte(c.raw)); got != c.fast {
			t.Errorf("%s %s: fast %v, want %v", c.field, c.raw, got, c.fast)
		}
		if c.fast {
			if err := fv.slowCheck([]byte(c.raw)); err != nil {
				t.Errorf("%s %s: fast accepts what the full check refuses: %v", c.field, c.raw, err)
			}
		}
	}
}

// FuzzFastAgrees: whatever the fast path accepts, the full check accepts.
func FuzzFastAgrees(f *testing.F) {
	v := fastTypes(f)
	names := []string{"name", "code", "sex", "born", "alive", "age", "visits", "phones", "tags", "income", "updated"}
	for i, raw := range []string{`"An"`, `"79"`, `"male"`, `"2000-01-01"`, `true`, `42`, `-1`,
		`["0901234567"]`, `["a", "b"]`, `"1.5"`, `"2025-01-01T00:00:00Z"`, `"\u00e9"`, "\"\xff\"", `[ "a" , "a" ]`} {
		f.Add(uint8(i), raw)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		fv := v.fields[names[int(which)%len(names)]]
		if fv.fast([]byte(raw)) {
			if err := fv.slowCheck([]byte(raw)); err != nil {
				t.Fatalf("%s: fast accepts %q, the full check refuses it: %v", fv.name, raw, err)
			}
		}
		if fv.f.Type == Set {
			if fv.fastString(raw) {
				if err := fv.elem.Validate(raw); err != nil {
					t.Fatalf("%s: fast accepts element %q, the schema refuses it: %v", fv.name, raw, err)
				}
			}
		}
	})
}
