package meta

import (
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
