package meta_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
)

func intp(n int) *int { return &n }

// person returns a small entity type: name (required string), age (integer),
// tags (set).
func person(version int) *dict.EntityType {
	return &dict.EntityType{
		Name: "person", Version: version,
		Key: dict.KeySpec{Pattern: `^[0-9]{4}$`},
		Fields: map[string]dict.Field{
			"name": {Type: dict.String, Required: true, MaxLength: intp(50)},
			"age":  {Type: dict.Integer},
			"tags": {Type: dict.Set},
		},
	}
}

// edit returns a copy of t with its fields changed by f.
func edit(t *dict.EntityType, version int, f func(map[string]dict.Field)) *dict.EntityType {
	c := *t
	c.Version = version
	c.Fields = maps.Clone(t.Fields)
	f(c.Fields)
	return &c
}

// baseView has members mps (seed) and moh, entity type person v1 and, if
// withDataset, dataset people.core over name and age.
func baseView(t *testing.T, withDataset bool) *meta.View {
	t.Helper()
	v := meta.EmptyView()
	var err error
	for _, m := range []meta.Member{{Name: "mps", Role: "seed", PeerID: "a"}, {Name: "moh", Role: "member", PeerID: "b"}} {
		if v, err = v.WithMember(m); err != nil {
			t.Fatal(err)
		}
	}
	if v, err = v.WithType(person(1)); err != nil {
		t.Fatal(err)
	}
	if withDataset {
		if v, err = v.WithDataset(&dict.Dataset{Name: "people.core", EntityType: "person", Fields: []string{"name", "age"}, Owner: "mps"}); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func TestWithType(t *testing.T) {
	p1 := person(1)
	tests := []struct {
		name        string
		dataset     bool // people.core covers name and age
		typ         *dict.EntityType
		wantIs      error    // nil: accepted
		wantMsg     []string // substrings of the error
		wantChanged string   // accepted: a field the new version has
	}{
		{name: "new type", typ: &dict.EntityType{Name: "pet", Version: 1, Key: dict.KeySpec{Pattern: `^p[0-9]+$`},
			Fields: map[string]dict.Field{"kind": {Type: dict.Enum, Values: []string{"cat", "dog"}}}}},
		{name: "identical replacement", typ: person(1)},
		{name: "add an optional field, same version", dataset: true,
			typ: edit(p1, 1, func(f map[string]dict.Field) { f["email"] = dict.Field{Type: dict.String} }), wantChanged: "email"},
		{name: "change a description, same version",
			typ: edit(p1, 1, func(f map[string]dict.Field) { a := f["age"]; a.Description = "years"; f["age"] = a })},
		{name: "remove a field, same version",
			typ:    edit(p1, 1, func(f map[string]dict.Field) { delete(f, "tags") }),
			wantIs: meta.ErrConflict, wantMsg: []string{`"tags"`, "removed", "version"}},
		{name: "change a field's type, same version",
			typ:    edit(p1, 1, func(f map[string]dict.Field) { f["age"] = dict.Field{Type: dict.String} }),
			wantIs: meta.ErrConflict, wantMsg: []string{`"age"`, "type", "bump the version to 2"}},
		{name: "make a field required, same version",
			typ:    edit(p1, 1, func(f map[string]dict.Field) { f["age"] = dict.Field{Type: dict.Integer, Required: true} }),
			wantIs: meta.ErrConflict, wantMsg: []string{`"age"`, "required", "version"}},
		{name: "add a required field, same version",
			typ:    edit(p1, 1, func(f map[string]dict.Field) { f["email"] = dict.Field{Type: dict.String, Required: true} }),
			wantIs: meta.ErrConflict, wantMsg: []string{`"email"`, "required", "version"}},
		{name: "loosen a constraint, same version",
			typ: edit(p1, 1, func(f map[string]dict.Field) {
				f["name"] = dict.Field{Type: dict.String, Required: true, MaxLength: intp(80)}
			}),
			wantIs: meta.ErrConflict, wantMsg: []string{`"name"`, "version"}},
		{name: "version 0",
			typ:    edit(p1, 0, func(map[string]dict.Field) {}),
			wantIs: meta.ErrInvalid, wantMsg: []string{"version"}},
		{name: "version bump allows incompatible changes",
			typ: edit(p1, 2, func(f map[string]dict.Field) {
				delete(f, "tags")
				f["age"] = dict.Field{Type: dict.String}
				f["email"] = dict.Field{Type: dict.String, Required: true}
			}), wantChanged: "email"},
		{name: "version bump removing a field no dataset covers", dataset: true,
			typ: edit(p1, 2, func(f map[string]dict.Field) { delete(f, "tags") }), wantChanged: "name"},
		{name: "version bump removing a field a dataset covers", dataset: true,
			typ:    edit(p1, 2, func(f map[string]dict.Field) { delete(f, "age") }),
			wantIs: meta.ErrConflict, wantMsg: []string{"people.core", `"age"`, "version 2"}},
		{name: "malformed type", typ: &dict.EntityType{Name: "Bad Name", Version: 1, Key: dict.KeySpec{Pattern: "."},
			Fields: map[string]dict.Field{"x": {Type: dict.String}}}, wantIs: meta.ErrInvalid, wantMsg: []string{"Bad Name"}},
		{name: "bad key pattern", typ: &dict.EntityType{Name: "pet", Version: 1, Key: dict.KeySpec{Pattern: "("},
			Fields: map[string]dict.Field{"x": {Type: dict.String}}}, wantIs: meta.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := baseView(t, tt.dataset)
			old := v.Type("person")
			n, err := v.WithType(tt.typ)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error %v, want errors.Is %v", err, tt.wantIs)
				}
				if n != nil {
					t.Errorf("failed WithType returned a view")
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("message %q does not mention %s", err, s)
					}
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("WithType: %v", err)
			}
			if n.Index != v.Index+1 {
				t.Errorf("index %d, want %d", n.Index, v.Index+1)
			}
			got := n.Type(tt.typ.Name)
			if got == nil || got.EntityType != tt.typ || got.Validator == nil || got.Validator.Type() != tt.typ {
				t.Fatalf("type %s not stored with a validator: %+v", tt.typ.Name, got)
			}
			if tt.wantChanged != "" {
				if err := got.Validator.Value(tt.wantChanged, []byte(`"x"`)); err != nil && strings.Contains(err.Error(), "unknown_field") {
					t.Errorf("validator does not know field %s: %v", tt.wantChanged, err)
				}
			}
			// The old view is unchanged.
			if v.Type("person") != old || (tt.typ.Name != "person" && v.Type(tt.typ.Name) != nil) {
				t.Errorf("WithType modified the view it was called on")
			}
			if len(n.Datasets()) != len(v.Datasets()) || len(n.Members()) != len(v.Members()) {
				t.Errorf("WithType lost datasets or members")
			}
		})
	}
}

func TestWithTypeLowerVersion(t *testing.T) {
	v, err := baseView(t, false).WithType(person(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.WithType(person(2)); !errors.Is(err, meta.ErrConflict) || !strings.Contains(err.Error(), "version 2 is older") {
		t.Errorf("lower version: %v, want ErrConflict saying the version is older", err)
	}
	if v.Type("person").Version != 3 {
		t.Errorf("view changed")
	}
}

func TestWithDataset(t *testing.T) {
	core := func() *dict.Dataset {
		return &dict.Dataset{Name: "people.core", EntityType: "person", Fields: []string{"name", "age"}, Owner: "mps"}
	}
	tests := []struct {
		name      string
		existing  bool // people.core exists
		ds        *dict.Dataset
		wantIs    error
		wantMsg   []string
		wantSame  bool   // accepted as a no-op: the same view back
		wantEpoch uint64 // accepted: the stored owner epoch
	}{
		{name: "new dataset, epoch defaults to 1", ds: core(), wantEpoch: 1},
		{name: "explicit epoch is kept", ds: func() *dict.Dataset { d := core(); d.OwnerEpoch = 3; return d }(), wantEpoch: 3},
		{name: "with a reader", ds: func() *dict.Dataset { d := core(); d.Readers = []string{"moh"}; return d }(), wantEpoch: 1},
		{name: "unknown entity type", ds: &dict.Dataset{Name: "pets.all", EntityType: "pet", Fields: []string{"name"}, Owner: "mps"},
			wantIs: meta.ErrInvalid, wantMsg: []string{`"pet"`, "does not exist"}},
		{name: "field not in the type", ds: &dict.Dataset{Name: "people.x", EntityType: "person", Fields: []string{"height"}, Owner: "mps"},
			wantIs: meta.ErrInvalid, wantMsg: []string{`"height"`}},
		{name: "unknown owner", ds: func() *dict.Dataset { d := core(); d.Owner = "mof"; return d }(),
			wantIs: meta.ErrInvalid, wantMsg: []string{`"mof"`, "[moh mps]"}},
		{name: "unknown reader", ds: func() *dict.Dataset { d := core(); d.Readers = []string{"moh", "hcm"}; return d }(),
			wantIs: meta.ErrInvalid, wantMsg: []string{`"hcm"`, "[moh mps]"}},
		{name: "overlapping fields", existing: true,
			ds:     &dict.Dataset{Name: "people.extra", EntityType: "person", Fields: []string{"tags", "age"}, Owner: "moh"},
			wantIs: meta.ErrConflict, wantMsg: []string{"people.extra", "people.core"}},
		{name: "overlapping key prefix", existing: true,
			ds:     &dict.Dataset{Name: "people.hcm", EntityType: "person", Fields: []string{"name"}, KeyPrefix: "79", Owner: "moh"},
			wantIs: meta.ErrConflict, wantMsg: []string{"people.hcm", "people.core"}},
		{name: "disjoint fields", existing: true,
			ds: &dict.Dataset{Name: "people.tags", EntityType: "person", Fields: []string{"tags"}, Owner: "moh"}, wantEpoch: 1},
		{name: "identical re-create", existing: true, ds: core(), wantSame: true},
		{name: "identical re-create with the stored epoch", existing: true,
			ds: func() *dict.Dataset { d := core(); d.OwnerEpoch = 1; return d }(), wantSame: true},
		{name: "re-create with other fields", existing: true,
			ds:     func() *dict.Dataset { d := core(); d.Fields = []string{"name"}; return d }(),
			wantIs: meta.ErrConflict, wantMsg: []string{"people.core", "already exists"}},
		{name: "re-create with another owner", existing: true,
			ds:     func() *dict.Dataset { d := core(); d.Owner = "moh"; return d }(),
			wantIs: meta.ErrConflict, wantMsg: []string{"people.core"}},
		{name: "re-create with another epoch", existing: true,
			ds:     func() *dict.Dataset { d := core(); d.OwnerEpoch = 2; return d }(),
			wantIs: meta.ErrConflict, wantMsg: []string{"people.core"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := baseView(t, tt.existing)
			n, err := v.WithDataset(tt.ds)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error %v, want errors.Is %v", err, tt.wantIs)
				}
				if n != nil {
					t.Errorf("failed WithDataset returned a view")
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("message %q does not mention %s", err, s)
					}
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("WithDataset: %v", err)
			}
			if tt.wantSame {
				if n != v || n.Index != v.Index {
					t.Errorf("identical re-create gave a new view (index %d -> %d)", v.Index, n.Index)
				}
				return
			}
			if n.Index != v.Index+1 {
				t.Errorf("index %d, want %d", n.Index, v.Index+1)
			}
			got := n.Dataset(tt.ds.Name)
			if got == nil {
				t.Fatal("dataset not stored")
			}
			if got.OwnerEpoch != tt.wantEpoch {
				t.Errorf("owner epoch %d, want %d", got.OwnerEpoch, tt.wantEpoch)
			}
			if tt.ds.OwnerEpoch == 0 && got == tt.ds {
				t.Errorf("the view stores the caller's dataset")
			}
			if v.Dataset(tt.ds.Name) != nil && !tt.existing {
				t.Errorf("WithDataset modified the view it was called on")
			}
			found := false
			for _, d := range n.DatasetsOf("person") {
				found = found || d == got
			}
			if !found {
				t.Errorf("DatasetsOf(person) misses %s", tt.ds.Name)
			}
		})
	}
}

func TestWithMember(t *testing.T) {
	v := meta.EmptyView()
	for _, m := range []meta.Member{{Name: "Bad", Role: "seed"}, {Name: "ok", Role: "leader"}, {Name: "", Role: "member"}} {
		if _, err := v.WithMember(m); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("WithMember(%+v): %v, want ErrInvalid", m, err)
		}
	}
	n, err := v.WithMember(meta.Member{Name: "mps", Role: "seed", PeerID: "a"})
	if err != nil || n.Index != 1 || n.Member("mps") == nil || v.Member("mps") != nil {
		t.Fatalf("WithMember: %v, %+v", err, n)
	}
}
