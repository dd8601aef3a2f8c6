package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadIdentityDamaged flips each bit pattern in each byte of an
// identity key: every one is refused at load with a message naming the file
// (a flipped byte started the node with a key whose signatures failed).
func TestLoadIdentityDamaged(t *testing.T) {
	dir := t.TempDir()
	want, err := newIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, IdentityFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, id, err := LoadIdentity(dir); err != nil || id != want {
		t.Fatalf("undamaged key: %v %v, want %v", id, err, want)
	}
	for i := range good {
		for _, mask := range []byte{0x01, 0x10, 0x80, 0xff} {
			b := append([]byte(nil), good...)
			b[i] ^= mask
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, id, err := LoadIdentity(dir)
			if err == nil {
				t.Fatalf("byte %d ^ %#x: loaded as %v", i, mask, id)
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), path+" is damaged") || !strings.Contains(err.Error(), "restore it from a backup") {
				t.Fatalf("byte %d ^ %#x: %v", i, mask, err)
			}
		}
	}
}
