package digest

import (
	"slices"
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
