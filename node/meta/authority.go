package meta

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrForbidden is returned when the proposer of a command (Command.By) lacks
// the authority for it. The message names who tried what and what authority
// the change needs.
var ErrForbidden = errors.New("meta: forbidden")

// Authorize reports whether c.By, the peer ID that proposed c as the control
// plane authenticated it, may make the change c to v. It is the rule table
// of docs/architecture.md ("Who may change the metadata"):
//
//   - a seed (the central office) may propose every command;
//   - a member may publish its own addresses (member_addrs naming itself),
//     and the owner of a dataset may grant and revoke its readers;
//   - on an empty view (no member yet), a peer may admit itself, as a seed:
//     the bootstrap seed's first command;
//   - anything else is refused with ErrForbidden.
//
// The rules read only v and c, so every replica decides alike when it
// applies the command: authority is that of the proposer at the index where
// the command applies, not where it was proposed.
func (v *View) Authorize(c Command) error {
	as := v.membersOf(c.By)
	if slices.ContainsFunc(as, func(m *Member) bool { return m.Role == "seed" }) {
		return nil
	}
	is := func(name string) bool { return slices.ContainsFunc(as, func(m *Member) bool { return m.Name == name }) }
	need := "a seed"
	switch c.Op {
	case OpPutMember:
		if len(v.members) == 0 {
			if c.Member != nil && c.By != "" && c.Member.PeerID == c.By && c.Member.Role == "seed" {
				return nil
			}
			need = "on a federation with no member yet, the bootstrap seed admitting itself as a seed, with its own peer ID"
		}
	case OpMemberAddrs:
		if is(c.Name) {
			return nil
		}
		need = fmt.Sprintf("a seed or member %s itself", c.Name)
	case OpGrant, OpRevoke:
		if d := v.datasets[c.Name]; d != nil {
			if is(d.Owner) {
				return nil
			}
			need = fmt.Sprintf("a seed or the owner of %s (%s)", c.Name, d.Owner)
		}
	}
	return fmt.Errorf("%w: %s may not %s: that needs %s; send it to a seed's API with that seed's admin token (seeds: %s)",
		ErrForbidden, describeProposer(c.By, as), describeCommand(c), need, seedNames(v))
}

// ApplyAuthorized is Apply after Authorize: what a replica of the
// federation's log does with each entry (the Raft state machine, and the
// simulator's model of it). A refusal leaves v as it is.
func (v *View) ApplyAuthorized(index uint64, c Command) (*View, error) {
	if err := v.Authorize(c); err != nil {
		return nil, err
	}
	return v.Apply(index, c)
}

// membersOf returns the members with peer ID id, sorted by name (a peer ID
// admitted under two names holds the authority of both).
func (v *View) membersOf(id string) []*Member {
	if id == "" {
		return nil
	}
	var out []*Member
	for _, m := range v.Members() {
		if m.PeerID == id {
			out = append(out, m)
		}
	}
	return out
}

func describeProposer(id string, as []*Member) string {
	switch {
	case id == "":
		return "a proposer with no peer ID"
	case len(as) == 0:
		return fmt.Sprintf("peer %s, not a member,", id)
	}
	var names []string
	for _, m := range as {
		names = append(names, m.Name)
	}
	return fmt.Sprintf("member %s (role %s, peer %s)", strings.Join(names, "/"), as[0].Role, id)
}

func describeCommand(c Command) string {
	switch c.Op {
	case OpPutMember:
		if c.Member == nil {
			return "put a member"
		}
		return fmt.Sprintf("admit or change member %s as %s (peer %s)", c.Member.Name, c.Member.Role, c.Member.PeerID)
	case OpRemoveMember:
		return "remove member " + c.Name
	case OpPutType:
		if c.Type == nil {
			return "put an entity type"
		}
		return "put entity type " + c.Type.Name
	case OpPutDataset:
		if c.Dataset == nil {
			return "create a dataset"
		}
		return fmt.Sprintf("create dataset %s owned by %s", c.Dataset.Name, c.Dataset.Owner)
	case OpTransfer:
		return fmt.Sprintf("transfer dataset %s to %s", c.Name, c.To)
	case OpGrant:
		return fmt.Sprintf("grant %s read access to dataset %s", c.Reader, c.Name)
	case OpRevoke:
		return fmt.Sprintf("revoke %s's read access to dataset %s", c.Reader, c.Name)
	case OpGossipKeys:
		return "set the federation's gossip keys"
	case OpMemberAddrs:
		return "publish the addresses of member " + c.Name
	case OpRestore:
		return "restore the metadata from a backup"
	}
	return fmt.Sprintf("apply command %q", c.Op)
}

func seedNames(v *View) string {
	var out []string
	for _, m := range v.Members() {
		if m.Role == "seed" {
			out = append(out, m.Name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// KnownOp reports whether op is one of the Op constants (for metric labels:
// an unknown op from the log must not create a label of its own).
func KnownOp(op string) bool {
	switch op {
	case OpPutMember, OpRemoveMember, OpPutType, OpPutDataset, OpTransfer, OpGrant, OpRevoke,
		OpGossipKeys, OpMemberAddrs, OpRestore:
		return true
	}
	return false
}
