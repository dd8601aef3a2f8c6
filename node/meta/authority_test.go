package meta_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
)

// Peer IDs of the proposers in the rule table.
const (
	peerSeed   = "S"
	peerOwner  = "H" // hcm, a member that owns land.79
	peerMember = "M" // moh, a member that owns nothing
	peerNone   = "X" // not a member
)

// authorityView has seed ndc, members hcm and moh, entity type person,
// dataset land.79 owned by hcm and read by moh, dataset people.core owned
// by ndc.
func authorityView(t *testing.T) *meta.View {
	t.Helper()
	v := meta.EmptyView()
	var err error
	for _, m := range []meta.Member{{Name: "ndc", Role: "seed", PeerID: peerSeed},
		{Name: "hcm", Role: "member", PeerID: peerOwner}, {Name: "moh", Role: "member", PeerID: peerMember}} {
		if v, err = v.WithMember(m); err != nil {
			t.Fatal(err)
		}
	}
	if v, err = v.WithType(person(1)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dict.Dataset{
		{Name: "land.79", EntityType: "person", Fields: []string{"name"}, Owner: "hcm", Readers: []string{"moh"}},
		{Name: "people.core", EntityType: "person", Fields: []string{"age"}, Owner: "ndc"},
	} {
		if v, err = v.WithDataset(d); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// TestAuthorityRuleTable checks every command kind against every kind of
// proposer: a seed, the owner of the dataset concerned, another member, a
// peer that is not a member, and no proposer at all.
func TestAuthorityRuleTable(t *testing.T) {
	v := authorityView(t)
	proposers := map[string]string{"seed": peerSeed, "owner": peerOwner, "member": peerMember, "non-member": peerNone, "nobody": ""}
	tests := []struct {
		name    string
		cmd     meta.Command
		allowed []string // proposer kinds that may; every other kind is refused
	}{
		{"admit a new seed", meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "evil2", Role: "seed", PeerID: "E"}}, []string{"seed"}},
		{"promote the owner to seed", meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "hcm", Role: "seed", PeerID: peerOwner}}, []string{"seed"}},
		{"change another member's peer ID", meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "moh", Role: "member", PeerID: peerOwner}}, []string{"seed"}},
		{"remove a member", meta.Command{Op: meta.OpRemoveMember, Name: "moh"}, []string{"seed"}},
		{"put an entity type", meta.Command{Op: meta.OpPutType, Type: person(2)}, []string{"seed"}},
		{"create a dataset", meta.Command{Op: meta.OpPutDataset, Dataset: &dict.Dataset{Name: "x", EntityType: "person", Fields: []string{"tags"}, Owner: "moh"}}, []string{"seed"}},
		{"transfer its own dataset", meta.Command{Op: meta.OpTransfer, Name: "land.79", To: "moh"}, []string{"seed"}},
		{"transfer another's dataset to oneself", meta.Command{Op: meta.OpTransfer, Name: "people.core", To: "hcm"}, []string{"seed"}},
		{"grant a reader of its own dataset", meta.Command{Op: meta.OpGrant, Name: "land.79", Reader: "ndc"}, []string{"seed", "owner"}},
		{"revoke a reader of its own dataset", meta.Command{Op: meta.OpRevoke, Name: "land.79", Reader: "moh"}, []string{"seed", "owner"}},
		{"grant oneself another's dataset", meta.Command{Op: meta.OpGrant, Name: "people.core", Reader: "hcm"}, []string{"seed"}},
		{"revoke a reader of another's dataset", meta.Command{Op: meta.OpRevoke, Name: "people.core", Reader: "moh"}, []string{"seed"}},
		{"grant on an unknown dataset", meta.Command{Op: meta.OpGrant, Name: "no.such", Reader: "moh"}, []string{"seed"}},
		{"set the gossip keys", meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{make([]byte, 32)}}, []string{"seed"}},
		{"publish the owner's addresses", meta.Command{Op: meta.OpMemberAddrs, Name: "hcm", Addrs: []string{"/ip4/10.0.0.9/tcp/1"}}, []string{"seed", "owner"}},
		{"publish the member's addresses", meta.Command{Op: meta.OpMemberAddrs, Name: "moh", Addrs: []string{"/ip4/10.0.0.9/tcp/1"}}, []string{"seed", "member"}},
		{"publish a seed's addresses", meta.Command{Op: meta.OpMemberAddrs, Name: "ndc", Addrs: []string{"/ip4/10.0.0.9/tcp/1"}}, []string{"seed"}},
		{"restore a backup", meta.Command{Op: meta.OpRestore, View: []byte(`{}`)}, []string{"seed"}},
		{"an unknown command", meta.Command{Op: "make_me_king"}, []string{"seed"}},
	}
	for _, tc := range tests {
		for kind, by := range proposers {
			c := tc.cmd
			c.By = by
			err := v.Authorize(c)
			want := slices.Contains(tc.allowed, kind)
			switch {
			case want && err != nil:
				t.Errorf("%s by %s: refused (%v); want allowed", tc.name, kind, err)
			case !want && !errors.Is(err, meta.ErrForbidden):
				t.Errorf("%s by %s: %v; want ErrForbidden", tc.name, kind, err)
			}
		}
	}
}

// TestAuthorityMessage: a refusal names who tried what, and what authority
// the change needs.
func TestAuthorityMessage(t *testing.T) {
	v := authorityView(t)
	tests := []struct {
		cmd  meta.Command
		want []string
	}{
		{meta.Command{Op: meta.OpTransfer, Name: "people.core", To: "moh", By: peerMember},
			[]string{"member moh", "role member", "peer M", "transfer dataset people.core to moh", "needs a seed", "seeds: ndc"}},
		{meta.Command{Op: meta.OpGrant, Name: "land.79", Reader: "moh", By: peerMember},
			[]string{"member moh", "grant moh read access to dataset land.79", "a seed or the owner of land.79 (hcm)"}},
		{meta.Command{Op: meta.OpMemberAddrs, Name: "ndc", By: peerOwner},
			[]string{"member hcm", "publish the addresses of member ndc", "a seed or member ndc itself"}},
		{meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "evil2", Role: "seed", PeerID: "E"}, By: peerNone},
			[]string{"peer X, not a member", "admit or change member evil2 as seed"}},
		{meta.Command{Op: meta.OpGossipKeys}, []string{"no peer ID", "set the federation's gossip keys"}},
	}
	for _, tc := range tests {
		err := v.Authorize(tc.cmd)
		if !errors.Is(err, meta.ErrForbidden) {
			t.Fatalf("%+v: %v; want ErrForbidden", tc.cmd, err)
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: message %q does not say %q", tc.cmd.Op, err, s)
			}
		}
	}
}

// TestAuthorityBootstrap: on an empty view the only change allowed is a peer
// admitting itself as a seed; once there is a member, not even that.
func TestAuthorityBootstrap(t *testing.T) {
	self := func(name, role, id string) meta.Command {
		return meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: name, Role: role, PeerID: id}, By: id}
	}
	empty := meta.EmptyView()
	if err := empty.Authorize(self("ndc", "seed", "S")); err != nil {
		t.Fatalf("the bootstrap seed admitting itself: %v", err)
	}
	refused := map[string]meta.Command{
		"admit itself as a member":  self("ndc", "member", "S"),
		"admit another peer":        {Op: meta.OpPutMember, Member: &meta.Member{Name: "ndc", Role: "seed", PeerID: "S"}, By: "T"},
		"admit with no proposer":    {Op: meta.OpPutMember, Member: &meta.Member{Name: "ndc", Role: "seed", PeerID: ""}},
		"put_member with no member": {Op: meta.OpPutMember, By: "S"},
		"set the gossip keys":       {Op: meta.OpGossipKeys, Keys: [][]byte{make([]byte, 32)}, By: "S"},
		"restore a backup":          {Op: meta.OpRestore, View: []byte(`{}`), By: "S"},
	}
	for name, c := range refused {
		if err := empty.Authorize(c); !errors.Is(err, meta.ErrForbidden) {
			t.Errorf("empty view, %s: %v; want ErrForbidden", name, err)
		}
	}
	v, err := empty.Apply(1, self("ndc", "seed", "S"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Authorize(self("evil", "seed", "E")); !errors.Is(err, meta.ErrForbidden) {
		t.Fatalf("a second peer admitting itself as a seed after the bootstrap: %v; want ErrForbidden", err)
	}
}

// TestAuthorityAtApply: authority is the proposer's in the view the command
// applies to. A seed demoted before its command applies is refused; a member
// promoted before its command applies is allowed.
func TestAuthorityAtApply(t *testing.T) {
	v := authorityView(t)
	put := meta.Command{Op: meta.OpPutType, Type: person(2), By: peerSeed}
	if err := v.Authorize(put); err != nil {
		t.Fatalf("seed ndc puts a type: %v", err)
	}
	// moh is promoted, then ndc demoted by the new seed.
	v, err := v.Apply(v.Index+1, meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "moh", Role: "seed", PeerID: peerMember}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = v.Apply(v.Index+1, meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "ndc", Role: "member", PeerID: peerSeed}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Authorize(put); !errors.Is(err, meta.ErrForbidden) {
		t.Fatalf("the demoted ndc's command applied after its demotion: %v; want ErrForbidden", err)
	}
	put.By = peerMember
	if err := v.Authorize(put); err != nil {
		t.Fatalf("the promoted moh puts a type: %v", err)
	}
}

// TestAuthoritySharedPeerID: a peer ID admitted under two names holds the
// authority of both, whatever order the names come in (every replica must
// decide alike).
func TestAuthoritySharedPeerID(t *testing.T) {
	v := authorityView(t)
	v, err := v.WithMember(meta.Member{Name: "aaa", Role: "member", PeerID: peerSeed})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Authorize(meta.Command{Op: meta.OpPutType, Type: person(2), By: peerSeed}); err != nil {
		t.Fatalf("peer S, seed ndc and member aaa: %v", err)
	}
	if err := v.Authorize(meta.Command{Op: meta.OpMemberAddrs, Name: "aaa", By: peerSeed}); err != nil {
		t.Fatalf("peer S publishing aaa's addresses: %v", err)
	}
}
