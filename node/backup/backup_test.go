package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/storage"
)

// newNodeDir makes a node directory with a store, a config and a Raft
// snapshot, and returns the Source that backs it up.
func newNodeDir(t *testing.T) (Source, func()) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node")
	st, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), func(tx *storage.Txn) error { tx.PutLocal("x", []byte("1")); return nil }); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"lienthong.yaml": "name: a\n", "identity.key": "key", "raft/1-2-3/meta.json": "{}", "raft/4-5-6.tmp/meta.json": "{}"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Source{Store: st, DataDir: "data", NodeDir: dir, Files: []string{"lienthong.yaml", "identity.key", "admin.token"},
		Dirs: []string{"raft"}, Name: "a", PeerID: "p", Version: "test"}, func() { st.Close() }
}

func TestCreateVerifyRestore(t *testing.T) {
	src, done := newNodeDir(t)
	defer done()
	dest := filepath.Join(t.TempDir(), "b")
	m, err := Create(context.Background(), src, dest)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, f := range m.Files {
		paths[f.Path] = true
	}
	for _, want := range []string{"lienthong.yaml", "identity.key", "raft/1-2-3/meta.json", "data/lienthong.committed"} {
		if !paths[want] {
			t.Errorf("backup lacks %s: %v", want, paths)
		}
	}
	if paths["raft/4-5-6.tmp/meta.json"] || paths["admin.token"] {
		t.Errorf("backup holds a snapshot being written or a missing file: %v", paths)
	}
	if _, err := Verify(dest); err != nil {
		t.Fatalf("Verify a fresh backup: %v", err)
	}
	restored := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(dest, restored); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(storage.Options{Dir: filepath.Join(restored, "data")})
	if err != nil {
		t.Fatalf("open the restored store: %v", err)
	}
	defer st.Close()
	if v, err := st.GetLocal("x"); err != nil || string(v) != "1" {
		t.Fatalf("restored store: x = %q, %v", v, err)
	}
	if _, err := Restore(dest, restored); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Restore into a non-empty directory: %v, want ErrInvalid", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	src, done := newNodeDir(t)
	defer done()
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "f"), nil, 0o600)
	for name, dest := range map[string]string{
		"relative":       "b",
		"inside node":    filepath.Join(src.NodeDir, "backup"),
		"the node dir":   src.NodeDir,
		"a parent of it": filepath.Dir(src.NodeDir),
		"not empty":      full,
	} {
		if _, err := Create(context.Background(), src, dest); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Create(%s) = %v, want ErrInvalid", name, dest, err)
		}
	}
}

func TestVerifyNamesDamage(t *testing.T) {
	src, done := newNodeDir(t)
	defer done()
	dest := filepath.Join(t.TempDir(), "b")
	if _, err := Create(context.Background(), src, dest); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dest, "identity.key")
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o600)
	os.WriteFile(filepath.Join(dest, "extra"), nil, 0o600)
	_, err := Verify(dest)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "identity.key has SHA-256") || !strings.Contains(err.Error(), "extra is not in the manifest") {
		t.Fatalf("Verify after a flipped byte: %v", err)
	}
	restored := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(dest, restored); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Restore of a damaged backup: %v, want ErrMismatch", err)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Errorf("Restore of a damaged backup left %s", restored)
	}
}
