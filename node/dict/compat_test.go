package dict

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCompatible(t *testing.T) {
	base := func() *EntityType {
		et, err := ParseEntityType([]byte(testTypeJSON))
		if err != nil {
			t.Fatal(err)
		}
		return et
	}
	intp := func(n int) *int { return &n }
	fp := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		name    string
		edit    func(t *EntityType)
		wantErr string // "" means compatible
	}{
		{"same", func(*EntityType) {}, ""},
		{"descriptions", func(et *EntityType) {
			et.Description = "new"
			et.Key.Description = "new"
			f := et.Fields["s"]
			f.Description = "new"
			et.Fields["s"] = f
		}, ""},
		{"add optional field", func(et *EntityType) { et.Fields["extra"] = Field{Type: String} }, ""},
		{"schema reformatted", func(et *EntityType) {
			f := et.Fields["o"]
			var v any
			_ = json.Unmarshal(f.Schema, &v)
			f.Schema, _ = json.MarshalIndent(v, "", "    ")
			et.Fields["o"] = f
		}, ""},
		{"add required field", func(et *EntityType) { et.Fields["extra"] = Field{Type: String, Required: true} }, `new field "extra" is required`},
		{"remove field", func(et *EntityType) { delete(et.Fields, "b") }, `field "b" was removed`},
		{"change type", func(et *EntityType) { et.Fields["u"] = Field{Type: Enum, Values: []string{"a"}} }, `field "u": type changed`},
		{"make required", func(et *EntityType) { f := et.Fields["u"]; f.Required = true; et.Fields["u"] = f }, `field "u": became required`},
		{"make optional", func(et *EntityType) { f := et.Fields["req"]; f.Required = false; et.Fields["req"] = f }, `field "req": is no longer required`},
		{"change pattern", func(et *EntityType) { f := et.Fields["s"]; f.Pattern = "^[A-Z]*$"; et.Fields["s"] = f }, `field "s": pattern changed`},
		{"tighten max_length", func(et *EntityType) { f := et.Fields["u"]; f.MaxLength = intp(2); et.Fields["u"] = f }, `field "u": max_length changed`},
		{"loosen max_length", func(et *EntityType) { f := et.Fields["u"]; f.MaxLength = intp(9); et.Fields["u"] = f }, `field "u": max_length changed`},
		{"drop min_length", func(et *EntityType) { f := et.Fields["s"]; f.MinLength = nil; et.Fields["s"] = f }, `field "s": min_length changed`},
		{"add min", func(et *EntityType) { f := et.Fields["n"]; f.Min = fp(0); et.Fields["n"] = f }, `field "n": min changed`},
		{"change max", func(et *EntityType) { f := et.Fields["d"]; f.Max = fp(2000); et.Fields["d"] = f }, `field "d": max changed`},
		{"add enum value", func(et *EntityType) { f := et.Fields["e"]; f.Values = []string{"a", "b", "c"}; et.Fields["e"] = f }, `field "e": enum values changed`},
		{"change max_items", func(et *EntityType) { f := et.Fields["tags"]; f.MaxItems = intp(4); et.Fields["tags"] = f }, `field "tags": max_items changed`},
		{"change schema", func(et *EntityType) {
			f := et.Fields["any"]
			f.Schema = json.RawMessage(`{"type":"object"}`)
			et.Fields["any"] = f
		}, `field "any": schema changed`},
		{"change key pattern", func(et *EntityType) { et.Key.Pattern = "^[a-z]{2}[0-9]{4}$" }, "key pattern changed"},
		{"rename", func(et *EntityType) { et.Name = "other" }, "names differ"},
		{"older version", func(et *EntityType) { et.Version = 0 }, "versions only go up"},
		{"bumped version allows anything", func(et *EntityType) {
			et.Version = 2
			et.Key.Pattern = "^x$"
			delete(et.Fields, "b")
			et.Fields["u"] = Field{Type: Integer, Required: true}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev, next := base(), base()
			tc.edit(next)
			err := Compatible(prev, next)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			if !errors.Is(err, ErrIncompatible) {
				t.Errorf("%v does not wrap ErrIncompatible", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if next.Name == prev.Name && next.Version == prev.Version && !strings.Contains(err.Error(), "bump the version to 2") {
				t.Errorf("error %q does not say to bump the version", err)
			}
			t.Log(err)
		})
	}
}
