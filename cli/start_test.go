package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/node"
)

// stuckFS is the operating system's file system whose Lock blocks until
// release is closed: a store that takes long to open.
type stuckFS struct {
	vfs.FS
	locking chan struct{}
	release chan struct{}
}

func (f stuckFS) Lock(name string) (io.Closer, error) {
	close(f.locking)
	<-f.release
	return f.FS.Lock(name)
}

// TestStartInterruptedWhileOpening: the signal that ends start's context
// while the store is still opening ends start (it waited, ignoring SIGTERM,
// as long as the store took); the store, once open, is closed.
func TestStartInterruptedWhileOpening(t *testing.T) {
	dir := t.TempDir() + "/n1"
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"init", "--dir", dir, "--name", "n1", "--listen-api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"}, &IO{Out: &out, Err: &out}); code != ExitOK {
		t.Fatalf("init: %d %s", code, out.String())
	}
	cfg, err := node.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	fs := stuckFS{FS: vfs.Default, locking: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, node.Options{FS: fs}, nil) }()
	<-fs.locking
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted while opening the node in "+dir) {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return when its context ended during the open")
	}
	close(fs.release)
	// The abandoned node closes once it has opened: the store can be
	// opened again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := node.New(cfg, node.Options{})
		if err == nil {
			n.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned node still holds the store: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
