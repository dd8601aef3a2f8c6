package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrDiskFull is wrapped by the error of Open, and of every write after the
// store failed, when the disk holding the store has no space left.
var ErrDiskFull = errors.New("storage: disk full")

func isNoSpace(err error) bool { return vfs.IsNoSpaceError(err) }

// diskFull returns the error for a disk found full at dir.
func diskFull(dir string, cause error) error {
	return fmt.Errorf("%w at %s: free space and start again: %v", ErrDiskFull, dir, cause)
}

// checkFree refuses to open a store on a disk with less than min bytes free:
// Pebble would open, then retry a failing flush in a loop. A file system that
// cannot tell its free space (vfs.NewMem) passes.
func checkFree(fs vfs.FS, dir string, min uint64) error {
	u, err := fs.GetDiskUsage(dir)
	if err != nil || u.AvailBytes >= min {
		return nil
	}
	return diskFull(dir, fmt.Errorf("%d bytes free, the store needs at least %d", u.AvailBytes, min))
}
