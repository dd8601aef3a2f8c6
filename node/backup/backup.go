package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lienthong/lienthong/storage"
)

// Errors of the package. Check them with errors.Is.
var (
	// ErrInvalid is a destination that cannot take a backup or a restore.
	ErrInvalid = errors.New("backup: invalid destination")
	// ErrMismatch is a backup whose files do not match its manifest.
	ErrMismatch = errors.New("backup: files do not match MANIFEST.json")
)

// ManifestFile is the manifest's name in a backup directory. It is written
// last: a directory without it holds no complete backup.
const ManifestFile = "MANIFEST.json"

// Format is the manifest's format version.
const Format = 1

// Manifest describes a backup.
type Manifest struct {
	Format    int       `json:"format"`
	Name      string    `json:"name"`
	PeerID    string    `json:"peer_id"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"version"` // the lienthong build that wrote it
	// MetaIndex is the metadata index the node had applied when the backup
	// began (its saved metadata is in the checkpoint).
	MetaIndex uint64 `json:"meta_index"`
	// Heads are the stream heads the checkpoint holds.
	Heads []StreamHead `json:"heads"`
	// Files are every file of the backup but the manifest, sorted by path.
	Files []File `json:"files"`
}

// StreamHead is one stream's head in the checkpoint.
type StreamHead struct {
	Dataset string `json:"dataset"`
	Origin  string `json:"origin"`
	Seq     uint64 `json:"seq"`
	Hash    string `json:"hash"` // hex SHA-256 of the op at Seq
}

// File is one file of a backup; Path is relative, with forward slashes.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Source is what Create backs up.
type Source struct {
	// Store is checkpointed into DataDir of the backup.
	Store   *storage.Store
	DataDir string // e.g. "data"
	// NodeDir is the node's directory; Files and Dirs are relative to it:
	// Files are copied as they are (a missing one is skipped), Dirs with
	// all they hold but names ending in ".tmp" (missing: skipped). They are
	// copied after the checkpoint.
	NodeDir string
	Files   []string
	Dirs    []string
	// Name, PeerID, MetaIndex and Version go into the manifest.
	Name, PeerID, Version string
	MetaIndex             uint64
}

// Create writes a backup of src into dest, which must be an absolute path
// outside the node directory that does not exist or is an empty directory.
// The store's checkpoint is taken while the node runs and writes. On error
// it removes what it wrote. It may run concurrently with other backups to
// other destinations.
func Create(ctx context.Context, src Source, dest string) (*Manifest, error) {
	if err := checkDest(src.NodeDir, dest); err != nil {
		return nil, err
	}
	created, err := prepare(dest)
	if err != nil {
		return nil, err
	}
	m, err := create(ctx, src, dest)
	if err != nil {
		return nil, errors.Join(err, cleanup(dest, created))
	}
	return m, nil
}

func create(ctx context.Context, src Source, dest string) (*Manifest, error) {
	m := &Manifest{Format: Format, Name: src.Name, PeerID: src.PeerID, Version: src.Version,
		MetaIndex: src.MetaIndex, CreatedAt: time.Now().UTC(), Heads: []StreamHead{}}
	heads, err := src.Store.Checkpoint(ctx, filepath.Join(dest, src.DataDir))
	if err != nil {
		return nil, err
	}
	for st, h := range heads {
		m.Heads = append(m.Heads, StreamHead{Dataset: st.Dataset, Origin: st.Origin, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash[:])})
	}
	slices.SortFunc(m.Heads, func(a, b StreamHead) int {
		return strings.Compare(a.Dataset+"\x00"+a.Origin, b.Dataset+"\x00"+b.Origin)
	})
	for _, f := range src.Files {
		if err := copyFile(filepath.Join(src.NodeDir, f), filepath.Join(dest, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, d := range src.Dirs {
		if err := copyTree(filepath.Join(src.NodeDir, d), filepath.Join(dest, d)); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.Files, err = hashTree(dest); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(dest, ManifestFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return m, syncDir(dest)
}

// checkDest refuses a relative dest, or one inside nodeDir (or nodeDir
// itself, or a parent of it), symbolic links resolved.
func checkDest(nodeDir, dest string) error {
	if !filepath.IsAbs(dest) {
		return fmt.Errorf("%w: %q is not an absolute path; give the full path of a directory on the node's machine", ErrInvalid, dest)
	}
	node, err := filepath.Abs(nodeDir)
	if err != nil {
		return err
	}
	node, d := resolve(node), resolve(dest)
	if within(node, d) || within(d, node) {
		return fmt.Errorf("%w: %s is inside the node directory %s (or holds it); back up to a directory outside it", ErrInvalid, dest, nodeDir)
	}
	return nil
}

// resolve resolves the symbolic links of the longest existing prefix of p.
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(resolve(parent), filepath.Base(p))
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// prepare makes sure dir is an empty directory, creating it (and its
// parents) if missing; created says it did.
func prepare(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, os.MkdirAll(dir, 0o700)
	case err != nil:
		return false, fmt.Errorf("%w: %v", ErrInvalid, err)
	case len(entries) > 0:
		return false, fmt.Errorf("%w: %s is not empty (it holds %s); give a new or empty directory", ErrInvalid, dir, entries[0].Name())
	}
	return false, nil
}

// cleanup removes what was written into dir: dir itself if created.
func cleanup(dir string, created bool) error {
	if created {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	for _, e := range entries {
		err = errors.Join(err, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return err
}

// copyTree copies the regular files below src into dst, skipping names
// ending in ".tmp" (a snapshot being written) and files removed while it
// walks (an old snapshot reaped); a missing src copies nothing.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p != src {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.HasSuffix(d.Name(), ".tmp") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		case d.Type().IsRegular():
			if err := copyFile(p, filepath.Join(dst, rel)); !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// copyFile copies src to dst (mode 0600, synced), creating dst's parents.
func copyFile(src, dst string) error {
	_, err := copyHashed(src, dst)
	return err
}

// copyHashed copies src to dst as copyFile does and returns the hex SHA-256
// of what it copied.
func copyHashed(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree lists every regular file below dir but the manifest, sorted.
func hashTree(dir string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ManifestFile {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrMismatch, rel)
		}
		sum, size, err := hashFile(p)
		if err != nil {
			return err
		}
		out = append(out, File{Path: filepath.ToSlash(rel), Size: size, SHA256: sum})
		return nil
	})
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, err
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
