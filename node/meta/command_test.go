package meta

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/node/dict"
)

// TestSettingsSurviveOtherCommands: every command keeps the federation's
// settings (a lost gossip key would make the leader mint a new one).
func TestSettingsSurviveOtherCommands(t *testing.T) {
	v, err := EmptyView().Apply(1, Command{Op: OpGossipKeys, Keys: [][]byte{make([]byte, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = v.Apply(2, Command{Op: OpPutMember, Member: &Member{Name: "a", Role: "seed", PeerID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = v.Apply(3, Command{Op: OpPutType, Type: &dict.EntityType{Name: "t", Version: 1,
		Key: dict.KeySpec{Pattern: "^[a-z]+$"}, Fields: map[string]dict.Field{"f": {Type: dict.String}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Settings.GossipKeys) != 1 || v.Index != 3 {
		t.Fatalf("after two other commands: %d gossip keys at index %d", len(v.Settings.GossipKeys), v.Index)
	}
}

// TestBackupHoldsNoSecrets: the metadata backup (View.WithoutSecrets, what
// GET /v1/meta/snapshot serves) holds no gossip key and leaves the view its
// keys; restoring it keeps the keys the federation has now (rotated since
// the backup), and restoring a view that holds keys sets them.
func TestBackupHoldsNoSecrets(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	k1[0], k2[0] = 1, 2
	v, err := EmptyView().Apply(1, Command{Op: OpGossipKeys, Keys: [][]byte{k1}})
	if err != nil {
		t.Fatal(err)
	}
	if v, err = v.Apply(2, Command{Op: OpPutMember, Member: &Member{Name: "a", Role: "seed", PeerID: "x"}}); err != nil {
		t.Fatal(err)
	}
	backup, err := json.Marshal(v.WithoutSecrets())
	if err != nil {
		t.Fatal(err)
	}
	full, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(backup), "gossip_keys") || !strings.Contains(string(full), "gossip_keys") {
		t.Fatalf("backup %s, full view %s: want the keys in the view only", backup, full)
	}
	if len(v.Settings.GossipKeys) != 1 {
		t.Fatal("WithoutSecrets took the keys from the view")
	}
	if h := sha256.Sum256(k1); !slices.Equal(v.Settings.KeyIDs(), []string{hex.EncodeToString(h[:8])}) {
		t.Errorf("KeyIDs %q, want the first 8 bytes of the key's SHA-256", v.Settings.KeyIDs())
	}
	rotated, err := v.Apply(3, Command{Op: OpGossipKeys, Keys: [][]byte{k2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		view []byte
		want []byte
	}{{"the backup", backup, k2}, {"a view with keys", full, k1}} {
		r, err := rotated.Apply(4, Command{Op: OpRestore, View: tc.view})
		if err != nil {
			t.Fatalf("restore %s: %v", tc.name, err)
		}
		if len(r.Settings.GossipKeys) != 1 || !bytes.Equal(r.Settings.GossipKeys[0], tc.want) || r.Member("a") == nil {
			t.Errorf("restore %s: keys %x, member a %v; want key %x and the member", tc.name, r.Settings.GossipKeys, r.Member("a"), tc.want)
		}
	}
}
