package digest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	a, b := NewBuilder("d"), NewBuilder("d")
	a.Add("k1", []byte{1})
	a.Add("k2", []byte{2})
	b.Add("k1", []byte{1})
	b.Add("k2", []byte{2})
	da, db := a.Digest(), b.Digest()
	if da.Total != db.Total || len(Differ(da, db)) != 0 || da.Entities != 2 {
		t.Fatalf("equal replicas differ: %v", Differ(da, db))
	}
	c := NewBuilder("d")
	c.Add("k1", []byte{1})
	c.Add("k2", []byte{3})
	dc := c.Digest()
	if da.Total == dc.Total {
		t.Fatal("different states, same total")
	}
	// Only the bucket of k2 differs.
	if got := Differ(da, dc); len(got) != 1 || !slices.Contains(got, bucketOf(t, "k2")) {
		t.Fatalf("differ = %v, want only the bucket of k2", got)
	}
}

func bucketOf(t *testing.T, key string) int {
	t.Helper()
	empty, one := NewBuilder("x").Digest(), NewBuilder("x")
	one.Add(key, nil)
	d := Differ(empty, one.Digest())
	if len(d) != 1 {
		t.Fatalf("one key changed %d buckets", len(d))
	}
	return d[0]
}

func TestDecode(t *testing.T) {
	b := NewBuilder("d")
	b.Add("k", []byte{1})
	good, _ := json.Marshal(b.Digest())
	if d, err := Decode(good, "d"); err != nil || d.Total != b.Digest().Total {
		t.Fatalf("a good digest: %v", err)
	}
	for _, tt := range []struct{ name, in, want string }{
		{"not JSON", `{`, "malformed"},
		{"another dataset", strings.Replace(string(good), `"dataset":"d"`, `"dataset":"e"`, 1), `not of "d"`},
		{"short bucket", strings.Replace(string(good), `"buckets":["`, `"buckets":["0`, 1), "bucket 0"},
		{"too few buckets", `{"dataset":"d","buckets":["0011223344556677"],"total":"` + strings.Repeat("0", 64) + `"}`, "bucket 1"},
		{"bad total", strings.Replace(string(good), `"total":"`, `"total":"x`, 1), "total"},
		{"negative count", strings.Replace(string(good), `"entities":1`, `"entities":-1`, 1), "-1 entities"},
		{"peer error", `{"dataset":"d","error":"may not read"}`, "may not read"},
	} {
		if _, err := Decode([]byte(tt.in), "d"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

// FuzzDecode: a peer's response never panics the decoder, and what it
// accepts compares with a real digest.
func FuzzDecode(f *testing.F) {
	b := NewBuilder("d")
	b.Add("k", []byte{1})
	good, _ := json.Marshal(b.Digest())
	f.Add(good)
	f.Add([]byte(`{"dataset":"d","buckets":[null],"total":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Decode(in, "d")
		if err != nil {
			return
		}
		if d.Dataset != "d" || len(d.Total) != 64 {
			t.Fatalf("accepted %q as %+v", in, d)
		}
		Differ(b.Digest(), d)
	})
}
