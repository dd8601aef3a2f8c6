package dict

import (
	"errors"
	"fmt"
	"slices"
)

// ErrIncompatible is wrapped by the errors of Compatible.
var ErrIncompatible = errors.New("dict: incompatible entity type change")

type compatError struct{ msg string }

func (e *compatError) Error() string { return "dict: " + e.msg }
func (e *compatError) Unwrap() error { return ErrIncompatible }

// Compatible reports whether next may replace prev, both checked entity types
// of the same name.
//
// With the same version number, next may only add optional fields and change
// descriptions (of the type, the key and fields): removing a field, changing
// a field's type, making a field required or optional, changing any
// constraint (even loosening it) or changing the key pattern is an error that
// names the field and says to bump the version. With a higher version any
// change is allowed; a lower version is an error. Errors wrap ErrIncompatible.
func Compatible(prev, next *EntityType) error {
	if prev.Name != next.Name {
		return &compatError{fmt.Sprintf("entity type %q cannot replace entity type %q: names differ", next.Name, prev.Name)}
	}
	where := fmt.Sprintf("entity type %s", next.Name)
	switch {
	case next.Version > prev.Version:
		return nil
	case next.Version < prev.Version:
		return &compatError{fmt.Sprintf("%s: version %d is older than the current version %d; versions only go up", where, next.Version, prev.Version)}
	}
	bump := fmt.Sprintf("; bump the version to %d to make this change", prev.Version+1)
	if prev.Key.Pattern != next.Key.Pattern {
		return &compatError{fmt.Sprintf("%s v%d: key pattern changed from %s to %s%s", where, prev.Version, prev.Key.Pattern, next.Key.Pattern, bump)}
	}
	for _, name := range sortedKeys(prev.Fields) {
		p := prev.Fields[name]
		n, ok := next.Fields[name]
		if !ok {
			return &compatError{fmt.Sprintf("%s v%d: field %q was removed%s", where, prev.Version, name, bump)}
		}
		if what := fieldChange(p, n); what != "" {
			return &compatError{fmt.Sprintf("%s v%d: field %q: %s%s", where, prev.Version, name, what, bump)}
		}
	}
	for _, name := range sortedKeys(next.Fields) {
		if _, ok := prev.Fields[name]; !ok && next.Fields[name].Required {
			return &compatError{fmt.Sprintf("%s v%d: new field %q is required, so existing records would not satisfy it%s", where, prev.Version, name, bump)}
		}
	}
	return nil
}

// fieldChange says what changed between two versions of a field apart from
// its description, or "" if nothing did.
func fieldChange(p, n Field) string {
	switch {
	case p.Type != n.Type:
		return fmt.Sprintf("type changed from %s to %s", p.Type, n.Type)
	case p.Required != n.Required:
		if n.Required {
			return "became required"
		}
		return "is no longer required"
	case p.Pattern != n.Pattern:
		return fmt.Sprintf("pattern changed from %q to %q", p.Pattern, n.Pattern)
	case !equalPtr(p.MinLength, n.MinLength):
		return "min_length changed"
	case !equalPtr(p.MaxLength, n.MaxLength):
		return "max_length changed"
	case !equalPtr(p.Min, n.Min):
		return "min changed"
	case !equalPtr(p.Max, n.Max):
		return "max changed"
	case !slices.Equal(p.Values, n.Values):
		return "enum values changed"
	case !equalPtr(p.MaxItems, n.MaxItems):
		return "max_items changed"
	case !equalJSON(p.Schema, n.Schema):
		return "schema changed"
	}
	return ""
}

// equalPtr reports whether two optional constraints are both absent or equal.
func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
