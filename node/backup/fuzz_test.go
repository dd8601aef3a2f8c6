package backup

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadManifest: any MANIFEST.json a backup directory holds gives a
// manifest whose files all lie inside the backup, or ErrMismatch; never a
// panic, never a path that escapes the directory.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"files":[{"path":"data/000002.log","size":3,"sha256":"ab"}]}`))
	f.Add([]byte(`{"format":1,"files":[{"path":"../etc/passwd"}]}`))
	f.Add([]byte(`{"format":1,"files":[{"path":"/abs"}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(dir)
		if err != nil {
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("%q: %v, not ErrMismatch", b, err)
			}
			return
		}
		for _, file := range m.Files {
			if p := filepath.FromSlash(file.Path); !filepath.IsLocal(p) || p == ManifestFile {
				t.Fatalf("%q: accepted %q", b, file.Path)
			}
		}
	})
}
