package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// LoadIdentity reads the node's ed25519 key from dir/identity.key, in
// libp2p's private key encoding, and returns it with its peer ID.
func LoadIdentity(dir string) (crypto.PrivKey, peer.ID, error) {
	path := filepath.Join(dir, IdentityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: %s does not exist; create the node with lienthong init", ErrConfig, path)
	}
	if err != nil {
		return nil, "", err
	}
	return parseIdentity(b, path)
}

// parseIdentity decodes and checks the identity key read from path.
func parseIdentity(b []byte, path string) (crypto.PrivKey, peer.ID, error) {
	damaged := func(why string) error {
		return fmt.Errorf("%w: identity key %s is damaged: %s; restore it from a backup of this node "+
			"(a new key is a new peer ID, which the federation must admit as a new member)", ErrConfig, path, why)
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", damaged(err.Error())
	}
	if key.Type() != crypto.Ed25519 {
		return nil, "", damaged(fmt.Sprintf("key type %v, want Ed25519", key.Type()))
	}
	// The key holds its seed and its public key: a changed byte in either
	// makes them disagree, and every signature it made would fail.
	raw, err := key.Raw()
	if err != nil {
		return nil, "", damaged(err.Error())
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize]).Public().(ed25519.PublicKey), raw[ed25519.SeedSize:]) {
		return nil, "", damaged("its public half does not match its private half")
	}
	id, err := peer.IDFromPrivateKey(key)
	return key, id, err
}

func newIdentity(dir string) (peer.ID, error) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return "", err
	}
	b, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, IdentityFile), b, 0o600); err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(key)
}
