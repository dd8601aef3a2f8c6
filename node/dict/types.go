package dict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
)

// ErrInvalid is wrapped by every error that ParseEntityType, EntityType.Check,
// ParseDataset and Dataset.Check return for a malformed definition. Check with
// errors.Is.
var ErrInvalid = errors.New("dict: invalid definition")

// defError is a malformed-definition error: its text says what and where, and
// it matches ErrInvalid.
type defError struct{ msg string }

func (e *defError) Error() string { return "dict: " + e.msg }
func (e *defError) Unwrap() error { return ErrInvalid }

func defErrorf(format string, args ...any) error {
	return &defError{msg: fmt.Sprintf(format, args...)}
}

// FieldType is the type of a field's value. It decides the JSON form of the
// value and, through it, the field's CRDT kind: Set is an add-wins set,
// Counter a per-origin counter, every other type a last-writer-wins register.
type FieldType string

// The field types. See docs/data-dictionary.md for each one's JSON form.
const (
	String   FieldType = "string"   // JSON string
	Integer  FieldType = "integer"  // JSON number without fraction or exponent, within int64
	Decimal  FieldType = "decimal"  // JSON string like "-1250.50", so that no precision is lost
	Boolean  FieldType = "boolean"  // JSON true or false
	Date     FieldType = "date"     // JSON string "YYYY-MM-DD"
	DateTime FieldType = "datetime" // JSON string, RFC 3339 date-time
	Enum     FieldType = "enum"     // JSON string, one of Field.Values
	Set      FieldType = "set"      // JSON array of unique strings; add-wins set
	Counter  FieldType = "counter"  // JSON integer within int64; per-origin increments, summed
	Object   FieldType = "object"   // JSON object, optionally checked by Field.Schema
)

// Valid reports whether t is one of the field types above.
func (t FieldType) Valid() bool {
	switch t {
	case String, Integer, Decimal, Boolean, Date, DateTime, Enum, Set, Counter, Object:
		return true
	}
	return false
}

// EntityType is one schema of the data dictionary.
//
// An EntityType is a plain value: callers may build one in code, but must call
// Check (or go through ParseEntityType or Compile) before trusting it. It must
// not be modified once it has been compiled or shared.
type EntityType struct {
	Name        string           `json:"name"`    // ^[a-z][a-z0-9_]{0,62}$
	Version     int              `json:"version"` // >= 1
	Description string           `json:"description,omitempty"`
	Key         KeySpec          `json:"key"`
	Fields      map[string]Field `json:"fields"` // names ^[a-z][a-z0-9_]{0,62}$, at least one
}

// KeySpec describes the keys of an entity type.
//
// Pattern is a Go (RE2) regular expression that every key must match. Like a
// JSON Schema pattern it matches anywhere in the key unless the author anchors
// it with ^ and $, which is almost always what is wanted. Independently of
// the pattern, a key is 1 to MaxKeyBytes bytes of valid UTF-8 with no '/',
// NUL or other control character, because keys appear in URL paths and in
// storage keys.
type KeySpec struct {
	Pattern     string `json:"pattern"`
	Description string `json:"description,omitempty"`
}

// MaxKeyBytes is the maximum length of an entity key in bytes.
const MaxKeyBytes = 256

// Field is one field of an entity type. Which constraints apply to which type
// is checked by EntityType.Check and listed in docs/data-dictionary.md.
type Field struct {
	Type        FieldType       `json:"type"`
	Required    bool            `json:"required,omitempty"`
	Description string          `json:"description,omitempty"`
	Pattern     string          `json:"pattern,omitempty"`    // string, set elements; Go RE2 syntax, unanchored unless ^...$
	MinLength   *int            `json:"min_length,omitempty"` // string, set elements; in characters (Unicode code points)
	MaxLength   *int            `json:"max_length,omitempty"` // string, set elements; in characters (Unicode code points)
	Min         *float64        `json:"min,omitempty"`        // integer, decimal; inclusive
	Max         *float64        `json:"max,omitempty"`        // integer, decimal; inclusive
	Values      []string        `json:"values,omitempty"`     // enum: required, non-empty, unique
	MaxItems    *int            `json:"max_items,omitempty"`  // set
	Schema      json.RawMessage `json:"schema,omitempty"`     // object: optional JSON Schema (draft 2020-12) for its contents
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ParseEntityType decodes one entity type from JSON and checks it.
//
// Decoding is strict: unknown keys, duplicate keys and anything after the
// value are errors. The returned error wraps ErrInvalid and says what is wrong
// and where, e.g. `dict: field "sex": enum needs "values"`.
// The caller owns the result.
func ParseEntityType(data []byte) (*EntityType, error) {
	var t EntityType
	if err := strictDecode(data, &t); err != nil {
		return nil, defErrorf("entity type: %v", err)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Check reports whether t is well formed: its name and version, that the key
// pattern and every field pattern compile, that each constraint fits its
// field's type (min_length on an integer is an error), that min <= max, that
// enum values are present and unique, and that an object's schema compiles.
// The error wraps ErrInvalid. Check does not modify t; it may be called
// concurrently.
func (t *EntityType) Check() error {
	if t == nil {
		return defErrorf("entity type is missing")
	}
	if !nameRE.MatchString(t.Name) {
		return defErrorf("entity type name %q must match %s", t.Name, nameRE)
	}
	where := fmt.Sprintf("entity type %q", t.Name)
	if t.Version < 1 {
		return defErrorf("%s: version must be at least 1, got %d", where, t.Version)
	}
	if t.Key.Pattern == "" {
		return defErrorf("%s: key needs a \"pattern\"", where)
	}
	if _, err := regexp.Compile(t.Key.Pattern); err != nil {
		return defErrorf("%s: key pattern %q is not a valid Go (RE2) regular expression: %v", where, t.Key.Pattern, err)
	}
	if len(t.Fields) == 0 {
		return defErrorf("%s: needs at least one field", where)
	}
	for _, name := range sortedKeys(t.Fields) {
		if !nameRE.MatchString(name) {
			return defErrorf("%s: field name %q must match %s", where, name, nameRE)
		}
		if err := checkField(name, t.Fields[name]); err != nil {
			return err
		}
	}
	return nil
}

// checkField checks one field's type and constraints.
func checkField(name string, f Field) error {
	where := fmt.Sprintf("field %q", name)
	if !f.Type.Valid() {
		if f.Type == "" {
			return defErrorf("%s: needs a \"type\"", where)
		}
		return defErrorf("%s: unknown type %q (want one of string, integer, decimal, boolean, date, datetime, enum, set, counter, object)", where, f.Type)
	}
	isString := f.Type == String || f.Type == Set
	isNumber := f.Type == Integer || f.Type == Decimal
	notFor := func(key string) error {
		return defErrorf("%s: %q does not apply to type %s", where, key, f.Type)
	}
	if f.Pattern != "" {
		if !isString {
			return notFor("pattern")
		}
		if _, err := regexp.Compile(f.Pattern); err != nil {
			return defErrorf("%s: pattern %q is not a valid Go (RE2) regular expression: %v", where, f.Pattern, err)
		}
	}
	if f.MinLength != nil {
		if !isString {
			return notFor("min_length")
		}
		if *f.MinLength < 0 {
			return defErrorf("%s: min_length must not be negative", where)
		}
	}
	if f.MaxLength != nil {
		if !isString {
			return notFor("max_length")
		}
		if *f.MaxLength < 1 {
			return defErrorf("%s: max_length must be at least 1", where)
		}
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		return defErrorf("%s: min_length %d is greater than max_length %d", where, *f.MinLength, *f.MaxLength)
	}
	if f.Min != nil {
		if !isNumber {
			return notFor("min")
		}
		if math.IsNaN(*f.Min) || math.IsInf(*f.Min, 0) {
			return defErrorf("%s: min must be a finite number", where)
		}
	}
	if f.Max != nil {
		if !isNumber {
			return notFor("max")
		}
		if math.IsNaN(*f.Max) || math.IsInf(*f.Max, 0) {
			return defErrorf("%s: max must be a finite number", where)
		}
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return defErrorf("%s: min %v is greater than max %v", where, *f.Min, *f.Max)
	}
	if f.Type == Enum {
		if len(f.Values) == 0 {
			return defErrorf("%s: enum needs \"values\"", where)
		}
		seen := make(map[string]bool, len(f.Values))
		for _, v := range f.Values {
			if v == "" {
				return defErrorf("%s: enum values must not be empty", where)
			}
			if seen[v] {
				return defErrorf("%s: enum value %q is listed twice", where, v)
			}
			seen[v] = true
		}
	} else if f.Values != nil {
		return notFor("values")
	}
	if f.MaxItems != nil {
		if f.Type != Set {
			return notFor("max_items")
		}
		if *f.MaxItems < 1 {
			return defErrorf("%s: max_items must be at least 1", where)
		}
	}
	if len(f.Schema) > 0 {
		if f.Type != Object {
			return notFor("schema")
		}
		if _, err := compileUserSchema(f.Schema); err != nil {
			return defErrorf("%s: %v", where, err)
		}
	}
	return nil
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// equalJSON reports whether a and b hold the same JSON value (numbers compared
// by their text). Two empty messages are equal; invalid JSON compares bytewise.
func equalJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	va, errA := decodeNumber(a)
	vb, errB := decodeNumber(b)
	if errA != nil || errB != nil {
		return bytes.Equal(a, b)
	}
	return deepEqual(va, vb)
}

// deepEqual compares two values decoded by decodeNumber.
func deepEqual(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !deepEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		return ok && slices.EqualFunc(a, bs, deepEqual)
	default:
		return a == b
	}
}
