package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Files of a running node, beside those of Config.
const (
	// LockFile is locked by the process running the node, so that a second
	// process on the same directory stops at once.
	LockFile = "lienthong.lock"
	// PIDFile names the process holding LockFile. The lock file itself
	// cannot say: a process that fails to take the lock truncates it.
	PIDFile = "lienthong.pid"
)

// ErrInUse is wrapped by the error of New when another process runs a node
// on the same directory.
var ErrInUse = errors.New("node: directory in use")

// LockDir takes the node directory's lock for this process and records its
// pid, or fails at once with ErrInUse naming the holder. New takes it unless
// Options.Lock holds it already; start takes it before it binds anything.
// The node directory is the operating system's (as for identity.key),
// whatever file system holds the store.
func LockDir(dir string) (io.Closer, error) {
	l, err := vfs.Default.Lock(filepath.Join(dir, LockFile))
	if err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(filepath.Join(dir, PIDFile)); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf("another process (pid %d, per %s)", pid, PIDFile)
			}
		}
		return nil, fmt.Errorf("%w: %s is held by %s: stop that node first, or wait for it to exit (%v)", ErrInUse, dir, holder, err)
	}
	if err := os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		l.Close()
		return nil, fmt.Errorf("node: record this process in %s: %w", PIDFile, err)
	}
	return l, nil
}
