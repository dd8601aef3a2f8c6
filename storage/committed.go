package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Every group commit writes the commit counter (key "g": the number of
// groups committed, 8 bytes big-endian) into its batch. Once the group's WAL
// sync returns, before anyone is acknowledged, the sync stage writes the same
// number to committedFile, outside Pebble. On Open the counter Pebble
// recovered must be at least the one in the file: if it is less, the WAL lost
// writes that were acknowledged (cut short, or damaged where Pebble could
// only take the damage for a torn tail), and Open refuses with ErrCorrupt.
//
// The file is written in place without a sync of its own (a pwrite of 16
// bytes per group), and synced at Close: after a power failure it may be
// behind the last acknowledgement, never ahead, so the check misses a loss
// in the last moments before the failure but never reports one that did not
// happen. It alternates between two slots, each with its checksum, so a torn
// write leaves the other slot's older, valid number.
//
// Its existence also says the directory holds a store: Pebble is then
// opened with ErrorIfNotExists, and a deleted manifest marker is an error,
// not a new empty store.
const committedFile = "lienthong.committed"

const (
	committedMagic = "LTC1"
	slotBytes      = 16 // magic(4) counter(8) crc32c(4)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendSlot(dst []byte, n uint64) []byte {
	start := len(dst)
	dst = append(dst, committedMagic...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// decodeCommitted returns the greatest counter of the valid slots in b.
func decodeCommitted(b []byte) (uint64, bool) {
	var n uint64
	ok := false
	for off := 0; off+slotBytes <= len(b); off += slotBytes {
		s := b[off : off+slotBytes]
		if string(s[:4]) != committedMagic || binary.BigEndian.Uint32(s[12:]) != crc32.Checksum(s[:12], crcTable) {
			continue
		}
		if v := binary.BigEndian.Uint64(s[4:12]); !ok || v > n {
			n, ok = v, true
		}
	}
	return n, ok
}

// committed is the open committedFile. Its write method is called by the
// sync stage only.
type committed struct {
	f   vfs.File
	buf []byte
}

// readCommitted returns the counter in dir's committedFile; exists is false
// if there is none.
func readCommitted(al *alarm, fs vfs.FS, dir string) (n uint64, exists bool, err error) {
	path := fs.PathJoin(dir, committedFile)
	f, err := fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("storage: open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 2*slotBytes))
	if err != nil {
		return 0, true, fmt.Errorf("storage: read %s: %w", path, err)
	}
	n, ok := decodeCommitted(b)
	if !ok {
		return 0, true, al.corrupt("opening the store", fmt.Errorf("%s holds no valid commit counter (%d bytes)", path, len(b)))
	}
	return n, true, nil
}

// createCommitted writes dir's committedFile holding n, synced, through a
// temporary file renamed into place, so a crash leaves either no file or a
// whole one.
func createCommitted(fs vfs.FS, dir string, n uint64) error {
	path, tmp := fs.PathJoin(dir, committedFile), fs.PathJoin(dir, committedFile+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(appendSlot(appendSlot(nil, n), n))
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func openCommitted(fs vfs.FS, dir string) (*committed, error) {
	f, err := fs.OpenReadWrite(fs.PathJoin(dir, committedFile), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	return &committed{f: f}, nil
}

// write records that group commit n is synced. It does not sync.
func (c *committed) write(n uint64) error {
	c.buf = appendSlot(c.buf[:0], n)
	_, err := c.f.WriteAt(c.buf, int64(n%2)*slotBytes)
	return err
}

// close syncs and closes the file.
func (c *committed) close() error { return errors.Join(c.f.Sync(), c.f.Close()) }

// commitKey holds the commit counter.
var commitKey = []byte{tableCommit}

// readCommitCounter returns the commit counter Pebble holds; 0 if none
// (a new store, or one written before the counter existed).
func readCommitCounter(al *alarm, r pebble.Reader) (uint64, error) {
	b, err := al.get(r, commitKey)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, al.corrupt(describe(commitKey), fmt.Errorf("%d bytes, want 8", len(b)))
	}
	return binary.BigEndian.Uint64(b), nil
}
