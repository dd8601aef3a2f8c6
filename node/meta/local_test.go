package meta_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
)

var selfMember = meta.Member{Name: "mps", Role: "seed", PeerID: "x"}

func openStore(t *testing.T, fs vfs.FS) *storage.Store {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: "db", FS: fs, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openLocal(t *testing.T, st *storage.Store, self meta.Member) *meta.Local {
	t.Helper()
	l, err := meta.OpenLocal(context.Background(), st, self)
	if err != nil {
		t.Fatalf("OpenLocal: %v", err)
	}
	return l
}

// stored returns every "meta/" local value of st.
func stored(t *testing.T, st *storage.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := st.ScanLocal("meta/", func(name string, v []byte) error {
		out[name] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// describe renders a view for comparison: index, members, types, datasets.
func describe(t *testing.T, v *meta.View) string {
	t.Helper()
	var types []*dict.EntityType
	for _, typ := range v.Types() {
		if typ.Validator == nil {
			t.Errorf("type %s has no validator", typ.Name)
		}
		types = append(types, typ.EntityType)
	}
	b, err := json.Marshal(struct {
		Index    uint64
		Members  []*meta.Member
		Types    []*dict.EntityType
		Datasets []*dict.Dataset
	}{v.Index, v.Members(), types, v.Datasets()})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadSamples puts every sample type and the sample datasets owned by "mps".
func loadSamples(t *testing.T, l *meta.Local) {
	t.Helper()
	ctx := context.Background()
	types, err := examples.EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		if _, err := l.PutType(ctx, typ); err != nil {
			t.Fatal(err)
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dss {
		d.Owner, d.Readers = "mps", nil
		if _, err := l.PutDataset(ctx, d); err != nil {
			t.Fatalf("PutDataset %s: %v", d.Name, err)
		}
	}
}

func TestLocalOpenEmpty(t *testing.T) {
	st := openStore(t, vfs.NewMem())
	l := openLocal(t, st, selfMember)
	v := l.View()
	if v.Index != 1 || len(v.Members()) != 1 || !sameMember(v.Member("mps"), selfMember) {
		t.Errorf("fresh view: index %d, members %v", v.Index, v.Members())
	}
	if len(v.Types()) != 0 || len(v.Datasets()) != 0 {
		t.Errorf("fresh view has types or datasets")
	}
	if _, err := meta.OpenLocal(context.Background(), st, meta.Member{Name: "Bad", Role: "seed"}); !errors.Is(err, meta.ErrInvalid) {
		t.Errorf("OpenLocal with an invalid self: %v, want ErrInvalid", err)
	}
}

func TestLocalWritesAdvanceIndex(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs)
	l := openLocal(t, st, selfMember)
	ctx := context.Background()
	prev := l.View()
	for i, typ := range []*dict.EntityType{person(1), edit(person(1), 1, func(f map[string]dict.Field) { f["email"] = dict.Field{Type: dict.String} })} {
		before := stored(t, st)
		v, err := l.PutType(ctx, typ)
		if err != nil {
			t.Fatal(err)
		}
		if v.Index != prev.Index+1 || l.View() != v {
			t.Errorf("put %d: index %d, want %d; View() returns the new view: %v", i, v.Index, prev.Index+1, l.View() == v)
		}
		if equalMaps(before, stored(t, st)) {
			t.Errorf("put %d: nothing stored", i)
		}
		prev = v
	}
	same, err := l.PutType(ctx, edit(person(1), 1, func(f map[string]dict.Field) { f["email"] = dict.Field{Type: dict.String} }))
	if err != nil || same != prev {
		t.Errorf("identical PutType: %v; want the same view at %d", err, prev.Index)
	}
	d := &dict.Dataset{Name: "people.core", EntityType: "person", Fields: []string{"name"}, Owner: "mps"}
	v, err := l.PutDataset(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if v.Index != prev.Index+1 || v.Dataset("people.core").OwnerEpoch != 1 {
		t.Errorf("PutDataset: index %d, epoch %d", v.Index, v.Dataset("people.core").OwnerEpoch)
	}
	before := stored(t, st)
	again, err := l.PutDataset(ctx, &dict.Dataset{Name: "people.core", EntityType: "person", Fields: []string{"name"}, Owner: "mps"})
	if err != nil || again != v || again.Index != v.Index {
		t.Errorf("identical PutDataset: %v, want the same view at %d", err, v.Index)
	}
	if after := stored(t, st); !equalMaps(before, after) {
		t.Errorf("identical PutDataset wrote to the store")
	}
	want := describe(t, l.View())
	st.Close()
	st = openStore(t, fs)
	l = openLocal(t, st, selfMember)
	if got := describe(t, l.View()); got != want {
		t.Errorf("after reopen:\n%s\nwant\n%s", got, want)
	}
	if l.View().Dataset("people.core").OwnerEpoch != 1 {
		t.Errorf("owner epoch not stored")
	}
}

func sameMember(m *meta.Member, want meta.Member) bool {
	return m != nil && m.Name == want.Name && m.Role == want.Role && m.PeerID == want.PeerID
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func TestLocalPersistence(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs)
	l := openLocal(t, st, selfMember)
	loadSamples(t, l)
	// A compatible replacement, so that what is stored is not the first version.
	cit := l.View().Type("citizen").EntityType
	if _, err := l.PutType(context.Background(), edit(cit, cit.Version, func(f map[string]dict.Field) {
		f["nickname"] = dict.Field{Type: dict.String}
	})); err != nil {
		t.Fatal(err)
	}
	want := describe(t, l.View())
	wantStored := stored(t, st)
	st.Close()

	tests := []struct {
		name      string
		self      meta.Member
		wantIndex func(uint64) uint64
	}{
		{name: "same self", self: selfMember, wantIndex: func(i uint64) uint64 { return i }},
		{name: "same self again", self: selfMember, wantIndex: func(i uint64) uint64 { return i }},
		{name: "self with a new peer ID", self: meta.Member{Name: "mps", Role: "seed", PeerID: "y"}, wantIndex: func(i uint64) uint64 { return i + 1 }},
		{name: "self unchanged since", self: meta.Member{Name: "mps", Role: "seed", PeerID: "y"}, wantIndex: func(i uint64) uint64 { return i }},
	}
	index := l.View().Index
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t, fs)
			defer st.Close()
			l := openLocal(t, st, tt.self)
			v := l.View()
			if v.Index != tt.wantIndex(index) {
				t.Errorf("index %d after reopen, want %d", v.Index, tt.wantIndex(index))
			}
			index = v.Index
			if m := v.Member("mps"); !sameMember(m, tt.self) {
				t.Errorf("self member %+v, want %+v", m, tt.self)
			}
			if v.Type("citizen").Fields["nickname"].Type != dict.String {
				t.Errorf("the replaced citizen type was not restored")
			}
			if len(v.Types()) != 5 || len(v.Datasets()) != 7 {
				t.Errorf("%d types and %d datasets after reopen, want 5 and 7", len(v.Types()), len(v.Datasets()))
			}
			if tt.self.PeerID == selfMember.PeerID {
				if got := describe(t, v); got != want {
					t.Errorf("view after reopen:\n%s\nwant\n%s", got, want)
				}
				if got := stored(t, st); !equalMaps(got, wantStored) {
					t.Errorf("reopen wrote to the store")
				}
			}
			// The reopened metadata still checks writes.
			if _, err := l.PutDataset(context.Background(), &dict.Dataset{Name: "people.dup", EntityType: "citizen",
				Fields: []string{"full_name"}, Owner: "mps"}); !errors.Is(err, meta.ErrConflict) {
				t.Errorf("overlapping dataset after reopen: %v, want ErrConflict", err)
			}
		})
	}
}

func TestLocalFailedWrites(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, vfs.NewMem())
	l := openLocal(t, st, selfMember)
	loadSamples(t, l)
	cit := l.View().Type("citizen").EntityType
	tests := []struct {
		name   string
		write  func() (*meta.View, error)
		wantIs error
	}{
		{"incompatible type", func() (*meta.View, error) {
			return l.PutType(ctx, edit(cit, cit.Version, func(f map[string]dict.Field) { delete(f, "ethnicity") }))
		}, meta.ErrConflict},
		{"version bump dropping a covered field", func() (*meta.View, error) {
			return l.PutType(ctx, edit(cit, cit.Version+1, func(f map[string]dict.Field) { delete(f, "ethnicity") }))
		}, meta.ErrConflict},
		{"malformed type", func() (*meta.View, error) {
			return l.PutType(ctx, &dict.EntityType{Name: "x", Version: 1})
		}, meta.ErrInvalid},
		{"dataset of an unknown type", func() (*meta.View, error) {
			return l.PutDataset(ctx, &dict.Dataset{Name: "a.b", EntityType: "nothing", Fields: []string{"x"}, Owner: "mps"})
		}, meta.ErrInvalid},
		{"dataset of an unknown owner", func() (*meta.View, error) {
			return l.PutDataset(ctx, &dict.Dataset{Name: "a.b", EntityType: "commune", Fields: []string{"kind"}, KeyPrefix: "9", Owner: "moh"})
		}, meta.ErrInvalid},
		{"overlapping dataset", func() (*meta.View, error) {
			return l.PutDataset(ctx, &dict.Dataset{Name: "a.b", EntityType: "citizen", Fields: []string{"phones"}, Owner: "mps"})
		}, meta.ErrConflict},
		{"changed dataset", func() (*meta.View, error) {
			return l.PutDataset(ctx, &dict.Dataset{Name: "reference.communes", EntityType: "commune", Fields: []string{"name"}, Owner: "mps"})
		}, meta.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v0, s0 := l.View(), stored(t, st)
			d0 := describe(t, v0)
			v, err := tt.write()
			if !errors.Is(err, tt.wantIs) || v != nil {
				t.Fatalf("got %v, %v; want nil, %v", v, err, tt.wantIs)
			}
			if l.View() != v0 || describe(t, l.View()) != d0 {
				t.Errorf("failed write changed the view")
			}
			if !equalMaps(stored(t, st), s0) {
				t.Errorf("failed write changed the stored metadata")
			}
		})
	}

	// A write the store refuses: the disk fills up under it. (Closing the
	// store instead would make storage.Update block forever; see the report.)
	t.Run("disk full", func(t *testing.T) {
		mem := vfs.NewCrashableMem()
		var full atomic.Bool
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".log") {
				return syscall.ENOSPC
			}
			return nil
		}))
		st := openStore(t, fs)
		l := openLocal(t, st, selfMember)
		v0 := l.View()
		d0 := describe(t, v0)
		full.Store(true)
		v, err := l.PutType(ctx, person(1))
		if !errors.Is(err, storage.ErrFailed) || v != nil {
			t.Fatalf("PutType on a full disk: %v, %v; want ErrFailed", v, err)
		}
		if l.View() != v0 || describe(t, l.View()) != d0 {
			t.Errorf("failed write changed the view")
		}
		crashed := mem.CrashClone(vfs.CrashCloneCfg{})
		st.Close()
		st = openStore(t, crashed)
		if got := describe(t, openLocal(t, st, selfMember).View()); got != d0 || strings.Contains(got, "person") {
			t.Errorf("failed write reached the store: %s", got)
		}
	})
}
