package data_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
)

// Sample keys and values used throughout the tests.
const (
	self    = "mps"
	keyA    = "079090001234"
	keyB    = "079090005678"
	idDS    = "population.identity"
	insDS   = "health.insurance"
	land79  = "land.79"
	citizen = "citizen"
)

// fakeClock is a settable physical clock, safe for concurrent use.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() int64   { return c.ms.Load() }
func (c *fakeClock) set(ms int64) { c.ms.Store(ms) }
func (c *fakeClock) add(ms int64) { c.ms.Add(ms) }
func newFakeClock(ms int64) *fakeClock {
	c := &fakeClock{}
	c.set(ms)
	return c
}

// testEnv is one single-node federation: a store on a memory file system,
// local metadata with every sample type and dataset (owned by "mps"), and an
// engine over them.
type testEnv struct {
	fs    vfs.FS
	st    *storage.Store
	meta  *meta.Local
	eng   *data.Engine
	clock *fakeClock
}

// newTestEngine returns a fresh environment. edit, if given, may change each
// sample dataset (already rewritten to owner "mps", no readers) before it is
// created; returning false skips the dataset.
func newTestEngine(t *testing.T, edit ...func(*dict.Dataset) bool) *testEnv {
	t.Helper()
	env := &testEnv{fs: vfs.NewMem(), clock: newFakeClock(1_750_000_000_000)}
	env.open(t)
	ctx := context.Background()
	types, err := examples.EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		if _, err := env.meta.PutType(ctx, typ); err != nil {
			t.Fatalf("PutType %s: %v", typ.Name, err)
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dss {
		d.Owner, d.Readers = self, nil
		skip := false
		for _, f := range edit {
			if !f(d) {
				skip = true
			}
		}
		if skip {
			continue
		}
		if _, err := env.meta.PutDataset(ctx, d); err != nil {
			t.Fatalf("PutDataset %s: %v", d.Name, err)
		}
	}
	return env
}

// open opens (or reopens) the store on env.fs, the metadata and the engine.
func (env *testEnv) open(t *testing.T) {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: "db", FS: env.fs, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := meta.OpenLocal(context.Background(), st, meta.Member{Name: self, Role: "seed", PeerID: "x"})
	if err != nil {
		t.Fatalf("open meta: %v", err)
	}
	env.st, env.meta = st, m
	env.eng = env.engine(t, self)
}

// reopen closes the store and opens everything again on the same file system.
func (env *testEnv) reopen(t *testing.T) {
	t.Helper()
	if err := env.st.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	env.open(t)
}

// engine returns another engine over env's store and metadata, writing as selfName.
func (env *testEnv) engine(t *testing.T, selfName string) *data.Engine {
	t.Helper()
	e, err := data.New(data.Config{Self: selfName, Store: env.st, Meta: env.meta, NowMillis: env.clock.now})
	if err != nil {
		t.Fatalf("data.New: %v", err)
	}
	return e
}

// fields builds a field map from name, raw JSON pairs.
func fields(kv ...string) map[string]json.RawMessage {
	if len(kv)%2 != 0 {
		panic("fields: odd argument count")
	}
	out := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = json.RawMessage(kv[i+1])
	}
	return out
}

// identity returns a valid PUT body for population.identity plus extra pairs.
func identity(extra ...string) map[string]json.RawMessage {
	f := fields(`full_name`, `"Nguyễn Văn An"`, `birth_date`, `"1990-01-02"`, `sex`, `"male"`, `birth_province`, `"79"`)
	maps.Copy(f, fields(extra...))
	return f
}

// insurance returns a valid PUT body for health.insurance plus extra pairs.
func insurance(extra ...string) map[string]json.RawMessage {
	f := fields(`insurance_number`, `"DN4797912345678"`)
	maps.Copy(f, fields(extra...))
	return f
}

func put(ds, key string, f map[string]json.RawMessage) data.Write {
	return data.Write{Dataset: ds, Key: key, Mode: data.Put, Fields: f}
}

func patch(ds, key string, f map[string]json.RawMessage) data.Write {
	return data.Write{Dataset: ds, Key: key, Mode: data.Patch, Fields: f}
}

func del(ds, key string) data.Write { return data.Write{Dataset: ds, Key: key, Mode: data.Delete} }

func mustWrite(t *testing.T, e *data.Engine, w data.Write) data.Result {
	t.Helper()
	res, err := e.Write(context.Background(), w)
	if err != nil {
		t.Fatalf("write %s %s/%s: %v", w.Mode, w.Dataset, w.Key, err)
	}
	return res
}

func mustGet(t *testing.T, e *data.Engine, typ, key string) *data.Entity {
	t.Helper()
	ent, err := e.Get(typ, key, false)
	if err != nil {
		t.Fatalf("get %s/%s: %v", typ, key, err)
	}
	return ent
}

// compact returns raw JSON without insignificant white space.
func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	return b.String()
}

// checkFields fails unless got holds exactly the fields of want (compacted JSON).
func checkFields(t *testing.T, got map[string]json.RawMessage, want map[string]string) {
	t.Helper()
	g := make(map[string]string, len(got))
	for k, v := range got {
		g[k] = compact(t, v)
	}
	w := make(map[string]string, len(want))
	for k, v := range want {
		w[k] = compact(t, []byte(v))
	}
	if !maps.Equal(g, w) {
		t.Errorf("fields:\n got %v\nwant %v", g, w)
	}
}

// checkDictError fails unless err carries a *dict.Error with field and rule.
func checkDictError(t *testing.T, err error, field, rule string) {
	t.Helper()
	var de *dict.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) carries no *dict.Error", err, err)
	}
	if de.Field != field || de.Rule != rule {
		t.Errorf("dict.Error{Field: %q, Rule: %q}, want {%q, %q}; message: %s", de.Field, de.Rule, field, rule, de.Message)
	}
	if de.Message == "" {
		t.Errorf("dict.Error has no message")
	}
}

// snapshot is what a rejected write must not change.
type snapshot struct {
	durable uint64
	heads   map[storage.Stream]storage.Head
	states  string
}

func takeSnapshot(t *testing.T, st *storage.Store, entities ...[2]string) snapshot {
	t.Helper()
	heads, err := st.Heads("")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range entities {
		states, err := st.Entity(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(states)
		sb.Write(b)
	}
	return snapshot{durable: st.Durable(), heads: heads, states: sb.String()}
}

func (s snapshot) equal(o snapshot) bool {
	return s.durable == o.durable && s.states == o.states && maps.Equal(s.heads, o.heads)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
