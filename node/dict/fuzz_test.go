package dict_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
)

// FuzzValue checks that Validator.Value on the sample citizen type never
// panics and fails only with an *Error naming the field.
func FuzzValue(f *testing.F) {
	types, err := examples.EntityTypes()
	if err != nil {
		f.Fatal(err)
	}
	var v *dict.Validator
	for _, et := range types {
		if et.Name == "citizen" {
			if v, err = dict.Compile(et); err != nil {
				f.Fatal(err)
			}
		}
	}
	if v == nil {
		f.Fatal("no citizen type in the samples")
	}
	for _, seed := range []struct{ field, raw string }{
		{"full_name", `"Nguyễn Văn An"`},
		{"full_name", `""`},
		{"birth_date", `"1990-13-01"`},
		{"birth_date", `"1990-01-01"`},
		{"sex", `"female"`},
		{"birth_province", `"79"`},
		{"phones", `["0901234567","0901234567"]`},
		{"phones", `["0901234567",1,null]`},
		{"insurance_number", `"DN4797912345678"`},
		{"clinic_visits", `9223372036854775808`},
		{"clinic_visits", `1e3`},
		{"clinic_visits", `-0`},
		{"ethnicity", `null`},
		{"clinic_visits", "\v0"}, // not JSON white space: FuzzValue found it accepted
		{"full_name", `"\ud800"`},
		{"nope", `{}`},
		{"full_name", `{"a":[1,2,{"b":"\ud800"}]}`},
		{"full_name", "\"\xff\""},
	} {
		f.Add(seed.field, []byte(seed.raw))
	}
	f.Fuzz(func(t *testing.T, field string, raw []byte) {
		err := v.Value(field, json.RawMessage(raw))
		if err == nil {
			if !json.Valid(raw) {
				t.Fatalf("accepted invalid JSON %q", raw)
			}
			return
		}
		var e *dict.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is %T, not *dict.Error", err, err)
		}
		if e.Field != field || e.Rule == "" || e.Message == "" {
			t.Fatalf("bad error %+v", e)
		}
	})
}
