package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s: it is no backup, or an incomplete one (a backup writes its manifest last)", ErrMismatch, dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMismatch, filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%w: %s has format %d; this build reads format %d", ErrMismatch, filepath.Join(dir, ManifestFile), m.Format, Format)
	}
	for _, f := range m.Files {
		if p := filepath.FromSlash(f.Path); !filepath.IsLocal(p) || p == ManifestFile {
			return nil, fmt.Errorf("%w: the manifest names %q, which is not a file inside the backup", ErrMismatch, f.Path)
		}
	}
	return &m, nil
}

// Verify hashes every file of the backup in dir against its manifest and
// returns the manifest. It returns an error wrapping ErrMismatch that names
// every file that differs (size or SHA-256), is missing, or is there without
// being in the manifest.
func Verify(dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	have, err := hashTree(dir)
	if err != nil {
		return nil, err
	}
	return m, compare(m.Files, have)
}

// compare lists how have differs from want.
func compare(want, have []File) error {
	got := map[string]File{}
	for _, f := range have {
		got[f.Path] = f
	}
	var bad []string
	for _, w := range want {
		h, ok := got[w.Path]
		delete(got, w.Path)
		switch {
		case !ok:
			bad = append(bad, w.Path+" is missing")
		case h.Size != w.Size:
			bad = append(bad, fmt.Sprintf("%s has %d bytes, the manifest says %d", w.Path, h.Size, w.Size))
		case h.SHA256 != w.SHA256:
			bad = append(bad, fmt.Sprintf("%s has SHA-256 %s, the manifest says %s", w.Path, h.SHA256, w.SHA256))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		bad = append(bad, p+" is not in the manifest")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s; the backup is damaged: use another one", ErrMismatch, strings.Join(bad, "; "))
	}
	return nil
}

// Restore checks the backup in dir against its manifest and copies its
// files into newDir, which must not exist or be an empty directory: a node
// directory that `lienthong start --dir newDir` starts. Each file is hashed
// again as it is copied. On error it removes what it wrote.
func Restore(dir, newDir string) (*Manifest, error) {
	m, err := Verify(dir)
	if err != nil {
		return nil, err
	}
	if within(resolve(abs(dir)), resolve(abs(newDir))) {
		return nil, fmt.Errorf("%w: %s is inside the backup %s", ErrInvalid, newDir, dir)
	}
	created, err := prepare(newDir)
	if err != nil {
		return nil, err
	}
	if err := restore(m, dir, newDir); err != nil {
		return nil, errors.Join(err, cleanup(newDir, created))
	}
	return m, nil
}

func restore(m *Manifest, dir, newDir string) error {
	var copied []File
	for _, f := range m.Files {
		p := filepath.FromSlash(f.Path)
		sum, err := copyHashed(filepath.Join(dir, p), filepath.Join(newDir, p))
		if err != nil {
			return err
		}
		st, err := os.Stat(filepath.Join(newDir, p))
		if err != nil {
			return err
		}
		copied = append(copied, File{Path: f.Path, Size: st.Size(), SHA256: sum})
	}
	if err := compare(m.Files, copied); err != nil {
		return err
	}
	return filepath.WalkDir(newDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
