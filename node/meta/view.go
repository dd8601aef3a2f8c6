package meta

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lienthong/lienthong/node/dict"
)

// Errors returned by metadata writes. Check them with errors.Is; the wrapped
// message says what was wrong and what to do.
var (
	ErrNotFound = errors.New("meta: not found")
	ErrConflict = errors.New("meta: conflict")
	ErrInvalid  = errors.New("meta: invalid")
)

// Member is an admitted node.
type Member struct {
	Name   string `json:"name"`
	Role   string `json:"role"` // "seed" or "member"
	PeerID string `json:"peer_id"`
	// Addrs are libp2p multiaddrs where the member may be reached; gossip
	// keeps the current ones, these are where to start.
	Addrs []string `json:"addrs,omitempty"`
	// AdmittedAt is when the member was admitted, as proposed (not as
	// applied, so that every replica agrees).
	AdmittedAt time.Time `json:"admitted_at,omitzero"`
}

func equalMember(a, b *Member) bool {
	return a.Name == b.Name && a.Role == b.Role && a.PeerID == b.PeerID && slices.Equal(a.Addrs, b.Addrs)
}

// Settings are federation-wide settings.
type Settings struct {
	// GossipKeys are the memberlist encryption keys; the first is the one
	// used to send. Rotation installs [new, old], then [new].
	GossipKeys [][]byte `json:"gossip_keys,omitempty"`
}

// KeyIDs names the gossip keys without revealing them, in their order (the
// sending key first): the first 8 bytes of each key's SHA-256, in hex. An
// operator compares them across members during a rotation.
func (s Settings) KeyIDs() []string {
	ids := make([]string, len(s.GossipKeys))
	for i, k := range s.GossipKeys {
		h := sha256.Sum256(k)
		ids[i] = hex.EncodeToString(h[:8])
	}
	return ids
}

// Type is an entity type with its compiled validator.
type Type struct {
	*dict.EntityType
	Validator *dict.Validator
	// Since is the metadata index at which this version became current. An
	// op validated at an earlier index was checked against an earlier
	// version; replicas do not hold it to this one.
	Since uint64
}

// View is the metadata at one index. A View is immutable: share it freely
// across goroutines and never modify what its methods return.
type View struct {
	Index    uint64
	Settings Settings
	members  map[string]*Member
	types    map[string]*Type
	datasets map[string]*dict.Dataset
}

// EmptyView returns the view before any metadata was written.
func EmptyView() *View {
	return &View{members: map[string]*Member{}, types: map[string]*Type{}, datasets: map[string]*dict.Dataset{}}
}

// Member returns the named member, or nil.
func (v *View) Member(name string) *Member { return v.members[name] }

// MemberByPeerID returns the member with libp2p peer ID id, or nil.
func (v *View) MemberByPeerID(id string) *Member {
	for _, m := range v.members {
		if m.PeerID == id {
			return m
		}
	}
	return nil
}

// Members returns every member sorted by name.
func (v *View) Members() []*Member { return sortedValues(v.members) }

// Type returns the named entity type, or nil.
func (v *View) Type(name string) *Type { return v.types[name] }

// Types returns every entity type sorted by name.
func (v *View) Types() []*Type { return sortedValues(v.types) }

// Dataset returns the named dataset, or nil.
func (v *View) Dataset(name string) *dict.Dataset { return v.datasets[name] }

// Datasets returns every dataset sorted by name.
func (v *View) Datasets() []*dict.Dataset { return sortedValues(v.datasets) }

// DatasetsOf returns the datasets of entity type typ sorted by name.
func (v *View) DatasetsOf(typ string) []*dict.Dataset {
	var out []*dict.Dataset
	for _, d := range v.Datasets() {
		if d.EntityType == typ {
			out = append(out, d)
		}
	}
	return out
}

func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// WithoutSecrets returns v without its secrets (the gossip keys), as the
// metadata backup serves it: a backup is a file an operator copies about,
// and a restore of it keeps the federation's keys (Command OpRestore).
func (v *View) WithoutSecrets() *View {
	c := *v
	c.Settings.GossipKeys = nil
	return &c
}

func (v *View) clone() *View {
	return &View{Index: v.Index + 1, Settings: Settings{GossipKeys: slices.Clone(v.Settings.GossipKeys)},
		members: maps.Clone(v.members), types: maps.Clone(v.types), datasets: maps.Clone(v.datasets)}
}

// WithMember returns the view after adding or replacing member m.
func (v *View) WithMember(m Member) (*View, error) {
	if !dict.ValidMemberName(m.Name) {
		return nil, fmt.Errorf("%w: member name %q: use 1-63 lowercase letters, digits, '-' or '_'", ErrInvalid, m.Name)
	}
	if m.Role != "seed" && m.Role != "member" {
		return nil, fmt.Errorf("%w: member %s: role %q must be seed or member", ErrInvalid, m.Name, m.Role)
	}
	n := v.clone()
	n.members[m.Name] = &m
	return n, nil
}

// WithType returns the view after putting entity type t. A new type is
// checked for well-formedness; a replacement must be Compatible with the
// current version, and must keep every field that a dataset covers.
func (v *View) WithType(t *dict.EntityType) (*View, error) {
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if prev := v.types[t.Name]; prev != nil {
		if err := dict.Compatible(prev.EntityType, t); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConflict, err)
		}
		for _, d := range v.DatasetsOf(t.Name) {
			if err := d.Check(t); err != nil {
				return nil, fmt.Errorf("%w: dataset %s no longer fits entity type %s version %d: %w",
					ErrConflict, d.Name, t.Name, t.Version, err)
			}
		}
	}
	val, err := dict.Compile(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	n := v.clone()
	n.types[t.Name] = &Type{EntityType: t, Validator: val, Since: n.Index}
	return n, nil
}

// WithDataset returns the view after creating dataset d. Its entity type
// must exist, its owner and readers must be members, and it must not overlap
// another dataset. Re-creating an identical dataset is allowed (idempotent);
// changing an existing one is a conflict.
func (v *View) WithDataset(d *dict.Dataset) (*View, error) {
	t := v.types[d.EntityType]
	if t == nil {
		return nil, fmt.Errorf("%w: dataset %s: entity type %q does not exist; put its schema first",
			ErrInvalid, d.Name, d.EntityType)
	}
	if err := d.Check(t.EntityType); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, name := range append([]string{d.Owner}, d.Readers...) {
		if v.members[name] == nil {
			return nil, fmt.Errorf("%w: dataset %s: %q is not a member of the federation (members: %s)",
				ErrInvalid, d.Name, name, memberNames(v))
		}
	}
	if prev := v.datasets[d.Name]; prev != nil {
		if equalDatasets(prev, d) {
			return v, nil
		}
		return nil, fmt.Errorf("%w: dataset %s already exists with a different definition; "+
			"datasets are not edited in place (transfer, grant and revoke change owner and readers)", ErrConflict, d.Name)
	}
	for _, o := range v.datasets {
		if dict.Overlaps(o, d) {
			return nil, fmt.Errorf("%w: dataset %s overlaps dataset %s: both cover a field of %s for some keys; "+
				"give them disjoint fields or disjoint key prefixes", ErrConflict, d.Name, o.Name, d.EntityType)
		}
	}
	n := v.clone()
	dc := *d
	if dc.OwnerEpoch == 0 {
		dc.OwnerEpoch = 1
	}
	n.datasets[d.Name] = &dc
	return n, nil
}

func memberNames(v *View) string {
	names := slices.Sorted(maps.Keys(v.members))
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}

func equalDatasets(a, b *dict.Dataset) bool {
	return a.Name == b.Name && a.EntityType == b.EntityType && slices.Equal(a.Fields, b.Fields) &&
		a.KeyPrefix == b.KeyPrefix && a.Owner == b.Owner && slices.Equal(a.Readers, b.Readers) &&
		(b.OwnerEpoch == 0 || a.OwnerEpoch == b.OwnerEpoch)
}
