package meta

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lienthong/lienthong/node/dict"
)

// Command is one metadata change, as proposed and as logged. Exactly the
// members its Op needs are set. Every implementation of Store applies
// commands with View.Apply, so the checks are the same everywhere.
type Command struct {
	Op string `json:"op"` // one of the Op constants

	Member  *Member          `json:"member,omitempty"`
	Type    *dict.EntityType `json:"type,omitempty"`
	Dataset *dict.Dataset    `json:"dataset,omitempty"`
	// Name names the member or dataset a command acts on; To is the new
	// owner of a transfer; Reader the member granted or revoked.
	Name   string   `json:"name,omitempty"`
	To     string   `json:"to,omitempty"`
	Reader string   `json:"reader,omitempty"`
	Keys   [][]byte `json:"keys,omitempty"`
	Addrs  []string `json:"addrs,omitempty"`
	// View is the metadata a restore replaces everything with (a backup
	// taken with View.MarshalJSON).
	View json.RawMessage `json:"view,omitempty"`
	// By is the peer ID of the node that proposed the command, as the
	// control plane authenticated it (never taken from a request body): the
	// audit trail of metadata changes, and whose authority the Raft state
	// machine checks with View.Authorize before it applies the command.
	By string `json:"by,omitempty"`
	// At is when the command was proposed.
	At time.Time `json:"at,omitzero"`
	// ID names the proposal: set once and kept when the proposer retries
	// it (the first attempt may have reached the log all the same), so the
	// Raft state machine applies a command whose ID it applied already as a
	// no-op.
	ID string `json:"id,omitempty"`
}

// Command ops.
const (
	OpPutMember    = "put_member"
	OpRemoveMember = "remove_member"
	OpPutType      = "put_type"
	OpPutDataset   = "put_dataset"
	OpTransfer     = "transfer"
	OpGrant        = "grant"
	OpRevoke       = "revoke"
	OpGossipKeys   = "gossip_keys"
	OpMemberAddrs  = "member_addrs" // a member publishing its own addresses
	OpRestore      = "restore"
)

// Apply returns the view after c, at metadata index index, or the error that
// says why c cannot apply (the view is unchanged). A command that changes
// nothing returns v itself.
func (v *View) Apply(index uint64, c Command) (*View, error) {
	var n *View
	var err error
	switch c.Op {
	case OpPutMember:
		if c.Member == nil {
			return nil, fmt.Errorf("%w: put_member without a member", ErrInvalid)
		}
		m := *c.Member
		if cur := v.members[m.Name]; cur != nil {
			if equalMember(cur, &m) {
				return v, nil
			}
			m.AdmittedAt = cur.AdmittedAt
		} else if m.AdmittedAt.IsZero() {
			m.AdmittedAt = c.At
		}
		n, err = v.WithMember(m)
	case OpRemoveMember:
		n, err = v.withoutMember(c.Name)
	case OpPutType:
		if c.Type == nil {
			return nil, fmt.Errorf("%w: put_type without a type", ErrInvalid)
		}
		if cur := v.types[c.Type.Name]; cur != nil && dict.Compatible(cur.EntityType, c.Type) == nil && sameJSON(cur.EntityType, c.Type) {
			return v, nil
		}
		n, err = v.WithType(c.Type)
	case OpPutDataset:
		if c.Dataset == nil {
			return nil, fmt.Errorf("%w: put_dataset without a dataset", ErrInvalid)
		}
		n, err = v.WithDataset(c.Dataset)
	case OpTransfer:
		n, err = v.withTransfer(c.Name, c.To)
	case OpGrant, OpRevoke:
		n, err = v.withReader(c.Name, c.Reader, c.Op == OpGrant)
	case OpGossipKeys:
		if len(c.Keys) == 0 {
			return nil, fmt.Errorf("%w: gossip_keys needs at least one key", ErrInvalid)
		}
		for _, k := range c.Keys {
			if len(k) != 16 && len(k) != 24 && len(k) != 32 {
				return nil, fmt.Errorf("%w: a gossip key is %d bytes; use 16, 24 or 32", ErrInvalid, len(k))
			}
		}
		n = v.clone()
		n.Settings.GossipKeys = slices.Clone(c.Keys)
	case OpMemberAddrs:
		m := v.members[c.Name]
		if m == nil {
			return nil, fmt.Errorf("%w: %q is not a member", ErrNotFound, c.Name)
		}
		if slices.Equal(m.Addrs, c.Addrs) {
			return v, nil
		}
		mc := *m
		mc.Addrs = slices.Clone(c.Addrs)
		n = v.clone()
		n.members[mc.Name] = &mc
	case OpRestore:
		// A backup is saved without the gossip keys (View.WithoutSecrets):
		// the federation keeps its own. One that holds keys sets them.
		if n, err = DecodeView(c.View); err == nil && len(n.Settings.GossipKeys) == 0 {
			n.Settings.GossipKeys = slices.Clone(v.Settings.GossipKeys)
		}
	default:
		return nil, fmt.Errorf("%w: unknown command %q", ErrInvalid, c.Op)
	}
	if err != nil {
		return nil, err
	}
	if n == v {
		return v, nil
	}
	n.Index = index
	if c.Op == OpPutType {
		t := *n.types[c.Type.Name]
		t.Since = index
		n.types[c.Type.Name] = &t
	}
	return n, nil
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// withoutMember removes a member. A member that owns a dataset cannot be
// removed; it is dropped from every reader list.
func (v *View) withoutMember(name string) (*View, error) {
	if v.members[name] == nil {
		return nil, fmt.Errorf("%w: %q is not a member", ErrNotFound, name)
	}
	for _, d := range v.Datasets() {
		if d.Owner == name {
			return nil, fmt.Errorf("%w: member %s owns dataset %s; transfer it first (lienthong dataset transfer %s --to MEMBER)",
				ErrConflict, name, d.Name, d.Name)
		}
	}
	n := v.clone()
	delete(n.members, name)
	for _, d := range v.Datasets() {
		if slices.Contains(d.Readers, name) {
			dc := *d
			dc.Readers = slices.DeleteFunc(slices.Clone(d.Readers), func(r string) bool { return r == name })
			n.datasets[d.Name] = &dc
		}
	}
	return n, nil
}

// withTransfer makes member to the owner of dataset name, with the next
// owner epoch. The old owner becomes a reader, so it keeps the data it wrote.
func (v *View) withTransfer(name, to string) (*View, error) {
	d := v.datasets[name]
	if d == nil {
		return nil, fmt.Errorf("%w: dataset %q does not exist", ErrNotFound, name)
	}
	if v.members[to] == nil {
		return nil, fmt.Errorf("%w: cannot transfer %s to %q: not a member of the federation (members: %s)",
			ErrInvalid, name, to, memberNames(v))
	}
	if d.Owner == to {
		return v, nil
	}
	dc := *d
	dc.Readers = slices.DeleteFunc(slices.Clone(d.Readers), func(r string) bool { return r == to })
	dc.Readers = append(dc.Readers, d.Owner)
	slices.Sort(dc.Readers)
	dc.PastOwners = append(slices.Clone(d.PastOwners), d.Owner)
	dc.Owner, dc.OwnerEpoch = to, d.OwnerEpoch+1
	n := v.clone()
	n.datasets[name] = &dc
	return n, nil
}

// withReader grants or revokes member reader's right to read dataset name.
func (v *View) withReader(name, reader string, grant bool) (*View, error) {
	d := v.datasets[name]
	if d == nil {
		return nil, fmt.Errorf("%w: dataset %q does not exist", ErrNotFound, name)
	}
	has := slices.Contains(d.Readers, reader)
	switch {
	case grant && v.members[reader] == nil:
		return nil, fmt.Errorf("%w: cannot grant %s to %q: not a member of the federation (members: %s)",
			ErrInvalid, name, reader, memberNames(v))
	case reader == d.Owner:
		return nil, fmt.Errorf("%w: %s owns %s; an owner always reads its dataset", ErrInvalid, reader, name)
	case grant == has:
		return v, nil
	}
	dc := *d
	if grant {
		dc.Readers = append(slices.Clone(d.Readers), reader)
		slices.Sort(dc.Readers)
	} else {
		dc.Readers = slices.DeleteFunc(slices.Clone(d.Readers), func(r string) bool { return r == reader })
	}
	n := v.clone()
	n.datasets[name] = &dc
	return n, nil
}

// snapshot is the JSON form of a View.
type snapshot struct {
	Index    uint64             `json:"index"`
	Settings Settings           `json:"settings"`
	Members  []*Member          `json:"members"`
	Types    []*dict.EntityType `json:"types"`
	Datasets []*dict.Dataset    `json:"datasets"`
	// TypeSince is each type's Since.
	TypeSince map[string]uint64 `json:"type_since,omitempty"`
}

// MarshalJSON encodes the view, for snapshots and backups.
func (v *View) MarshalJSON() ([]byte, error) {
	s := snapshot{Index: v.Index, Settings: v.Settings, Members: v.Members(), Datasets: v.Datasets()}
	s.TypeSince = map[string]uint64{}
	for _, t := range v.Types() {
		s.Types = append(s.Types, t.EntityType)
		s.TypeSince[t.Name] = t.Since
	}
	return json.Marshal(s)
}

// DecodeView rebuilds a view from MarshalJSON's output, checking it as if
// its contents were applied again.
func DecodeView(b []byte) (*View, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: metadata snapshot: %v", ErrInvalid, err)
	}
	if slices.Contains(s.Members, nil) || slices.Contains(s.Types, nil) || slices.Contains(s.Datasets, nil) {
		return nil, fmt.Errorf("%w: metadata snapshot: a null member, type or dataset", ErrInvalid)
	}
	v := EmptyView()
	var err error
	for _, m := range s.Members {
		if v, err = v.WithMember(*m); err != nil {
			return nil, fmt.Errorf("metadata snapshot: %w", err)
		}
	}
	for _, t := range s.Types {
		if v, err = v.WithType(t); err != nil {
			return nil, fmt.Errorf("metadata snapshot: %w", err)
		}
	}
	for _, d := range s.Datasets {
		if v, err = v.WithDataset(d); err != nil {
			return nil, fmt.Errorf("metadata snapshot: %w", err)
		}
	}
	for name, t := range v.types {
		tc := *t
		tc.Since = s.TypeSince[name]
		v.types[name] = &tc
	}
	v.Index, v.Settings = s.Index, s.Settings
	return v, nil
}
