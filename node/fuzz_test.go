package node

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FuzzParseConfig: any lienthong.yaml gives a valid config or an error,
// never a panic.
func FuzzParseConfig(f *testing.F) {
	dir := f.TempDir()
	if _, err := Init(dir, DefaultConfig("hcm")); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := parseConfig(good, dir); err != nil {
		f.Fatalf("the config init writes: %v", err)
	}
	f.Add(good)
	for _, s := range []string{"", "name: [", "name: x\napi: 3\n", "name: x\nunknown: 1\n", "name: x\napi:\n  listen: ':'\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConfig(b, "/nonexistent")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}

// FuzzParseIdentity: any identity.key bytes give a key whose signatures
// verify under its peer ID, or an error; never a panic.
func FuzzParseIdentity(f *testing.F) {
	key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	good, _ := crypto.MarshalPrivateKey(key)
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		k, id, err := parseIdentity(b, "identity.key")
		if err != nil {
			return
		}
		msg := []byte("lienthong")
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatalf("accepted key does not sign: %v", err)
		}
		pub, err := id.ExtractPublicKey()
		if err != nil {
			t.Fatalf("peer ID %s holds no public key: %v", id, err)
		}
		if ok, _ := pub.Verify(msg, sig); !ok {
			t.Fatalf("accepted key %x signs what its peer ID does not verify", b)
		}
		if want, _ := peer.IDFromPrivateKey(k); want != id {
			t.Fatalf("peer ID %s, want %s", id, want)
		}
	})
}
