package node

import (
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
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, "", fmt.Errorf("%w: %s: key type %v, want Ed25519", ErrConfig, path, key.Type())
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
