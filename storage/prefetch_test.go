package storage

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// registerOf returns the value of register f in the state StateFrom gives
// for prefetch p of entity ("t", key) in dataset d, and whether the
// prefetch served.
func registerOf(t *testing.T, s *Store, p *Prefetched, key, d string) (string, bool) {
	t.Helper()
	var v string
	hits := s.prefetch.hits
	if err := s.Update(context.Background(), func(tx *Txn) error {
		st, err := tx.StateFrom(p, "t", key, d)
		if f := st.Field("f"); err == nil && f != nil {
			v = string(f.Value)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v, s.prefetch.hits > hits
}

func write(t *testing.T, s *Store, d, key, v string) {
	t.Helper()
	if err := s.Update(context.Background(), func(tx *Txn) error { _, err := appendNext(tx, d, "o", key, v); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestPrefetch: a prefetched state serves only when nothing wrote the
// entity since it was read; else StateFrom reads the state again.
func TestPrefetch(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	write(t, s, "d", "k", `"a"`)

	p := s.PrefetchState("t", "k", "d")
	if v, hit := registerOf(t, s, &p, "k", "d"); v != `"a"` || !hit {
		t.Errorf("unchanged since the read: %s (served %v), want \"a\" from the prefetch", v, hit)
	}
	if v, hit := registerOf(t, s, &p, "k", "d"); v != `"a"` || hit {
		t.Errorf("a prefetch used twice: %s (served %v), want a fresh read", v, hit)
	}

	// Another key written since: still served.
	p = s.PrefetchState("t", "k", "d")
	write(t, s, "d", "other", `"x"`)
	if v, hit := registerOf(t, s, &p, "k", "d"); v != `"a"` || !hit {
		t.Errorf("another key written since: %s (served %v)", v, hit)
	}

	// The key written since: the new state, read again.
	p = s.PrefetchState("t", "k", "d")
	write(t, s, "d", "k", `"b"`)
	if v, hit := registerOf(t, s, &p, "k", "d"); v != `"b"` || hit {
		t.Errorf("the key written since: %s (served %v), want \"b\" read again", v, hit)
	}

	// Written earlier in the same Txn: read again.
	p = s.PrefetchState("t", "k", "d")
	var v string
	if err := s.Update(context.Background(), func(tx *Txn) error {
		if _, err := appendNext(tx, "d", "o", "k", `"c"`); err != nil {
			return err
		}
		st, err := tx.StateFrom(&p, "t", "k", "d")
		v = string(st.Field("f").Value)
		return err
	}); err != nil || v != `"c"` {
		t.Errorf("written in the same Txn: %s, %v; want \"c\"", v, err)
	}

	// More groups since than the committer remembers: read again.
	p = s.PrefetchState("t", "k", "d")
	for range recentGroups + 1 {
		write(t, s, "d", "other", `"x"`)
	}
	if v, hit := registerOf(t, s, &p, "k", "d"); v != `"c"` || hit {
		t.Errorf("%d groups since: %s (served %v), want a fresh read", recentGroups+1, v, hit)
	}

	// A dataset dropped since: read again (and gone).
	p = s.PrefetchState("t", "k", "d")
	if _, err := s.DropDataset(context.Background(), "t", "", "d"); err != nil {
		t.Fatal(err)
	}
	if v, hit := registerOf(t, s, &p, "k", "d"); v != "" || hit {
		t.Errorf("dataset dropped since: %q (served %v), want no state", v, hit)
	}

	// A prefetch of another entity is not used for this one.
	p = s.PrefetchState("t", "other", "d")
	if _, hit := registerOf(t, s, &p, "k", "d"); hit {
		t.Error("a prefetch of another key served")
	}
}
