package dict

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Dataset is a named set of fields of one entity type, optionally limited to
// keys with a prefix, owned by exactly one member at a time and readable by
// its readers. It is the unit of ownership, replication and access control.
//
// A Dataset is a plain value; it must not be modified once shared. Its
// methods may be called concurrently.
type Dataset struct {
	Name       string   `json:"name"`                  // ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$, at most 128 bytes, e.g. "land.79"
	EntityType string   `json:"entity_type"`           // name of the entity type
	Fields     []string `json:"fields"`                // at least one; unique; each a field of the type
	KeyPrefix  string   `json:"key_prefix,omitempty"`  // only keys starting with it belong to the dataset; "" for all keys
	Owner      string   `json:"owner"`                 // member name, see ValidMemberName
	OwnerEpoch uint64   `json:"owner_epoch,omitempty"` // set by the metadata layer: 1 at creation, bumped on each ownership transfer; 0 in a request means "new"
	PastOwners []string `json:"past_owners,omitempty"` // owners of epochs 1 .. OwnerEpoch-1, in order; set by the metadata layer
	Readers    []string `json:"readers,omitempty"`     // member names, unique, not including the owner
}

// MaxDatasetNameBytes is the maximum length of a dataset name.
const MaxDatasetNameBytes = 128

var (
	datasetNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)
	memberNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// ValidMemberName reports whether s is a well-formed member name:
// ^[a-z0-9][a-z0-9_-]{0,62}$.
func ValidMemberName(s string) bool { return memberNameRE.MatchString(s) }

// ParseDataset decodes one dataset from strict JSON (unknown keys, duplicate
// keys and trailing data are errors) and checks it syntactically: names,
// field list, key prefix, owner, epoch and readers. Whether its fields exist
// is checked by Check against the entity type. The error wraps ErrInvalid.
// The caller owns the result.
func ParseDataset(data []byte) (*Dataset, error) {
	var d Dataset
	if err := strictDecode(data, &d); err != nil {
		return nil, defErrorf("dataset: %v", err)
	}
	if err := d.checkSyntax(); err != nil {
		return nil, err
	}
	return &d, nil
}

// checkSyntax checks what can be checked without the entity type.
func (d *Dataset) checkSyntax() error {
	if len(d.Name) > MaxDatasetNameBytes || !datasetNameRE.MatchString(d.Name) {
		return defErrorf("dataset name %q must match %s and be at most %d bytes", d.Name, datasetNameRE, MaxDatasetNameBytes)
	}
	where := fmt.Sprintf("dataset %q", d.Name)
	if !nameRE.MatchString(d.EntityType) {
		return defErrorf("%s: entity_type %q must match %s", where, d.EntityType, nameRE)
	}
	if len(d.Fields) == 0 {
		return defErrorf("%s: needs at least one field", where)
	}
	seen := make(map[string]bool, len(d.Fields))
	for _, f := range d.Fields {
		if !nameRE.MatchString(f) {
			return defErrorf("%s: field name %q must match %s", where, f, nameRE)
		}
		if seen[f] {
			return defErrorf("%s: field %q is listed twice", where, f)
		}
		seen[f] = true
	}
	if d.KeyPrefix != "" {
		if msg := keyProblem(d.KeyPrefix); msg != "" {
			return defErrorf("%s: key_prefix %s %s", where, show(d.KeyPrefix), msg)
		}
	}
	if !ValidMemberName(d.Owner) {
		return defErrorf("%s: owner %q is not a member name (%s)", where, d.Owner, memberNameRE)
	}
	readers := make(map[string]bool, len(d.Readers))
	for _, r := range d.Readers {
		if !ValidMemberName(r) {
			return defErrorf("%s: reader %q is not a member name (%s)", where, r, memberNameRE)
		}
		if r == d.Owner {
			return defErrorf("%s: the owner %q must not be listed as a reader", where, r)
		}
		if readers[r] {
			return defErrorf("%s: reader %q is listed twice", where, r)
		}
		readers[r] = true
	}
	return nil
}

// Check checks d syntactically (as ParseDataset does) and against its entity
// type t: the type's name, that every field exists in t, and that some key
// matching t's key pattern could start with the key prefix. The prefix test
// is exact for key patterns anchored with ^ and permissive otherwise. The
// error wraps ErrInvalid.
func (d *Dataset) Check(t *EntityType) error {
	if err := d.checkSyntax(); err != nil {
		return err
	}
	if t == nil || t.Name != d.EntityType {
		got := "none"
		if t != nil {
			got = fmt.Sprintf("%q", t.Name)
		}
		return defErrorf("dataset %q: is of entity type %q, checked against %s", d.Name, d.EntityType, got)
	}
	for _, f := range d.Fields {
		if _, ok := t.Fields[f]; !ok {
			return defErrorf("dataset %q: field %q is not a field of entity type %s", d.Name, f, t.Name)
		}
	}
	if d.KeyPrefix != "" {
		ok, err := prefixPossible(t.Key.Pattern, d.KeyPrefix)
		if err != nil {
			return defErrorf("dataset %q: entity type %s: key pattern: %v", d.Name, t.Name, err)
		}
		if !ok {
			return defErrorf("dataset %q: no key of entity type %s can start with key_prefix %s (key pattern %s)",
				d.Name, t.Name, show(d.KeyPrefix), t.Key.Pattern)
		}
	}
	return nil
}

// OwnerAt returns the member that owned the dataset at owner epoch epoch,
// and false for an epoch the dataset has not reached.
func (d *Dataset) OwnerAt(epoch uint64) (string, bool) {
	switch {
	case epoch == d.OwnerEpoch:
		return d.Owner, true
	case epoch >= 1 && epoch < d.OwnerEpoch && int(epoch) <= len(d.PastOwners):
		return d.PastOwners[epoch-1], true
	}
	return "", false
}

// Covers reports whether field is one of d's fields.
func (d *Dataset) Covers(field string) bool { return slices.Contains(d.Fields, field) }

// CanRead reports whether member may read d: it is the owner or a reader.
func (d *Dataset) CanRead(member string) bool {
	return member == d.Owner || slices.Contains(d.Readers, member)
}

// HasKey reports whether key belongs to d, i.e. starts with d.KeyPrefix.
func (d *Dataset) HasKey(key string) bool { return strings.HasPrefix(key, d.KeyPrefix) }

// Overlaps reports whether some field of some entity could be written through
// both a and b: they are of the same entity type, share a field, and one's
// key prefix is a prefix of the other's. The metadata layer refuses a dataset
// that overlaps an existing one, so that every field of every entity has
// exactly one owner.
func Overlaps(a, b *Dataset) bool {
	if a.EntityType != b.EntityType {
		return false
	}
	if !strings.HasPrefix(a.KeyPrefix, b.KeyPrefix) && !strings.HasPrefix(b.KeyPrefix, a.KeyPrefix) {
		return false
	}
	for _, f := range a.Fields {
		if b.Covers(f) {
			return true
		}
	}
	return false
}
