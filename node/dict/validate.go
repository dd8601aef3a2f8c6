package dict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The rules of validation errors (Error.Rule). docs/data-dictionary.md lists
// them with the types they apply to.
const (
	RuleType         = "type"
	RulePattern      = "pattern"
	RuleMinLength    = "min_length"
	RuleMaxLength    = "max_length"
	RuleMin          = "min"
	RuleMax          = "max"
	RuleEnum         = "enum"
	RuleMaxItems     = "max_items"
	RuleUniqueItems  = "unique_items"
	RuleDate         = "date"
	RuleDateTime     = "datetime"
	RuleDecimal      = "decimal"
	RuleSchema       = "schema"
	RuleKeyPattern   = "key_pattern"
	RuleKeyInvalid   = "key_invalid"
	RuleUnknownField = "unknown_field"
	RuleNotInDataset = "not_in_dataset"
	RuleRequired     = "required"
	// Limits of the write path (crdt/limits.go), checked against the
	// state a write makes.
	RuleMaxValueBytes = "max_value_bytes"
	RuleMaxSetElems   = "max_set_elements"
	RuleMaxOpBytes    = "max_op_bytes"
	RuleMaxStateBytes = "max_state_bytes"
	RuleCounterRange  = "counter_range"
)

// Error is a validation failure of a key, a value or a record write.
// Use errors.As to get it from the error a Validator returns.
type Error struct {
	Field   string // the field; "" for a key error
	Rule    string // one of the Rule constants, e.g. "pattern"
	Message string // one sentence a user can act on, naming the field and the rule
}

// Error returns e.Message.
func (e *Error) Error() string { return e.Message }

// decimalRE is the lexical form of a decimal value.
var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Validator checks keys, values and record writes against one entity type.
// It is immutable once compiled and safe for concurrent use.
type Validator struct {
	t      *EntityType
	key    *regexp.Regexp
	fields map[string]*fieldValidator
}

// fieldValidator holds the compiled schemas of one field.
type fieldValidator struct {
	name   string
	f      Field
	value  *jsonschema.Schema // a whole value
	elem   *jsonschema.Schema // set: one element
	user   *jsonschema.Schema // object: the user's schema, or nil
	minRat *big.Rat           // decimal: f.Min, exactly
	maxRat *big.Rat           // decimal: f.Max, exactly
	fastF  fastField          // fast.go
}

// Compile checks t and compiles it into a Validator. t must not be modified
// afterwards: the Validator keeps it and returns it from Type.
func Compile(t *EntityType) (*Validator, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	v := &Validator{
		t:      t,
		key:    regexp.MustCompile(t.Key.Pattern), // checked above
		fields: make(map[string]*fieldValidator, len(t.Fields)),
	}
	c := newCompiler()
	for _, name := range sortedKeys(t.Fields) {
		fv, err := compileField(c, name, t.Fields[name])
		if err != nil {
			return nil, fmt.Errorf("dict: entity type %q: field %q: compile: %w", t.Name, name, err)
		}
		v.fields[name] = fv
	}
	return v, nil
}

// compileField builds and compiles the schemas of one checked field.
func compileField(c *jsonschema.Compiler, name string, f Field) (*fieldValidator, error) {
	fv := &fieldValidator{name: name, f: f}
	if f.Pattern != "" && (f.Type == String || f.Type == Set) {
		fv.fastF.pattern = regexp.MustCompile(f.Pattern) // checked by EntityType.Check
	}
	str := func() map[string]any {
		s := map[string]any{"type": "string"}
		if f.Pattern != "" {
			s["pattern"] = f.Pattern
		}
		if f.MinLength != nil {
			s["minLength"] = *f.MinLength
		}
		if f.MaxLength != nil {
			s["maxLength"] = *f.MaxLength
		}
		return s
	}
	var doc map[string]any
	switch f.Type {
	case String:
		doc = str()
	case Integer:
		doc = map[string]any{"type": "integer"}
		if f.Min != nil {
			doc["minimum"] = *f.Min
		}
		if f.Max != nil {
			doc["maximum"] = *f.Max
		}
	case Counter:
		doc = map[string]any{"type": "integer"}
	case Decimal:
		doc = map[string]any{"type": "string", "pattern": decimalRE.String()}
		if f.Min != nil {
			fv.minRat = decimalBound(*f.Min)
		}
		if f.Max != nil {
			fv.maxRat = decimalBound(*f.Max)
		}
	case Boolean:
		doc = map[string]any{"type": "boolean"}
	case Date:
		doc = map[string]any{"type": "string", "format": "date"}
	case DateTime:
		doc = map[string]any{"type": "string", "format": "date-time"}
	case Enum:
		doc = map[string]any{"type": "string", "enum": f.Values}
	case Set:
		elem, err := compileSchema(c, name+".element", str())
		if err != nil {
			return nil, err
		}
		fv.elem = elem
		doc = map[string]any{"type": "array", "uniqueItems": true, "items": str()}
		if f.MaxItems != nil {
			doc["maxItems"] = *f.MaxItems
		}
	case Object:
		doc = map[string]any{"type": "object"}
		if len(f.Schema) > 0 {
			user, err := compileUserSchema(f.Schema)
			if err != nil {
				return nil, err
			}
			fv.user = user
		}
	default:
		return nil, fmt.Errorf("unknown type %q", f.Type) // excluded by Check
	}
	value, err := compileSchema(c, name, doc)
	if err != nil {
		return nil, err
	}
	fv.value = value
	return fv, nil
}

// decimalBound returns the bound as the decimal its author wrote: the
// shortest decimal that reads back as f, so that min 0.1 admits "0.1"
// (the float64 nearest 0.1 is slightly more than 0.1).
func decimalBound(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok { // cannot happen for a finite float
		return new(big.Rat).SetFloat64(f)
	}
	return r
}

// Type returns the entity type v was compiled from. The caller must not
// modify it.
func (v *Validator) Type() *EntityType { return v.t }

// Key checks an entity key: rule "key_invalid" when it is empty, longer than
// MaxKeyBytes, not UTF-8 or contains '/', NUL or another control character;
// rule "key_pattern" when it does not match the type's key pattern.
func (v *Validator) Key(key string) error {
	if msg := keyProblem(key); msg != "" {
		return &Error{Rule: RuleKeyInvalid, Message: fmt.Sprintf("key %s %s (key_invalid)", show(key), msg)}
	}
	if !v.key.MatchString(key) {
		what := ""
		if v.t.Key.Description != "" {
			what = " (" + strings.TrimSuffix(v.t.Key.Description, ".") + ")"
		}
		return &Error{Rule: RuleKeyPattern, Message: fmt.Sprintf(
			"key %s does not match the %s key pattern %s%s (key_pattern)", show(key), v.t.Name, v.t.Key.Pattern, what)}
	}
	return nil
}

// keyProblem says why s cannot be (the start of) a key, or "" if it can.
func keyProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxKeyBytes:
		return fmt.Sprintf("is %d bytes long, more than %d", len(s), MaxKeyBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r == '/' {
			return "contains '/', which keys may not contain"
		}
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	return ""
}

// Value checks one whole value of a field, given as raw JSON. null is not a
// value here (rule "type"): callers treat null as "clear the field" before
// calling Value. Errors are *Error; an unknown field gives rule
// "unknown_field".
func (v *Validator) Value(field string, raw json.RawMessage) error {
	fv, ok := v.fields[field]
	if !ok {
		return v.unknownField(field)
	}
	return fv.check(raw)
}

// Element checks one element of a set field, e.g. before an add operation.
func (v *Validator) Element(field, elem string) error {
	fv, ok := v.fields[field]
	if !ok {
		return v.unknownField(field)
	}
	if fv.f.Type != Set {
		return &Error{Field: field, Rule: RuleType, Message: fmt.Sprintf(
			"field %q is a %s, not a set, so it has no elements (type)", field, fv.f.Type)}
	}
	if fv.fastString(elem) { // exactly the element schema's rules
		return nil
	}
	if err := fv.elem.Validate(elem); err != nil {
		return fv.mapError(err, elem, true)
	}
	return nil
}

func (v *Validator) unknownField(field string) error {
	return &Error{Field: field, Rule: RuleUnknownField, Message: fmt.Sprintf(
		"field %q is not a field of entity type %s (unknown_field)", field, v.t.Name)}
}

// Record checks a write of dataset ds. fields maps field name to raw JSON
// value; null means clear the field.
//
// With partial false (a PUT), every required field that ds covers must be
// present and not null. With partial true (a PATCH), only the given fields
// are checked, but a required field may not be set to null.
//
// Fields are checked in sorted name order and the first failure is returned,
// so the error is deterministic: a field not in the type gives rule
// "unknown_field"; in the type but not covered by ds, "not_in_dataset"; a
// missing or null required field, "required"; a bad value, the rule of the
// failed constraint. These errors are *Error. A dataset of another entity
// type is a caller bug and gives a plain error.
func (v *Validator) Record(ds *Dataset, fields map[string]json.RawMessage, partial bool) error {
	if ds == nil {
		return errors.New("dict: Record needs a dataset")
	}
	if ds.EntityType != v.t.Name {
		return fmt.Errorf("dict: dataset %q is of entity type %q, not %q", ds.Name, ds.EntityType, v.t.Name)
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	if !partial {
		for _, name := range ds.Fields {
			if f, ok := v.t.Fields[name]; ok && f.Required {
				if _, given := fields[name]; !given {
					names = append(names, name)
				}
			}
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fv, ok := v.fields[name]
		if !ok {
			return v.unknownField(name)
		}
		if !ds.Covers(name) {
			return &Error{Field: name, Rule: RuleNotInDataset, Message: fmt.Sprintf(
				"field %q is not in dataset %s; write it through a dataset that covers it (not_in_dataset)", name, ds.Name)}
		}
		raw, given := fields[name]
		switch {
		case !given:
			return &Error{Field: name, Rule: RuleRequired, Message: fmt.Sprintf(
				"field %q is required in dataset %s; give it a value (required)", name, ds.Name)}
		case isNull(raw):
			if fv.f.Required {
				return &Error{Field: name, Rule: RuleRequired, Message: fmt.Sprintf(
					"field %q is required and cannot be cleared with null; give it a value (required)", name)}
			}
		default:
			if err := fv.check(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// isNull reports whether raw is the JSON null.
func isNull(raw json.RawMessage) bool {
	return string(trimSpace(raw)) == "null"
}

// check validates one whole raw value of the field.
func (fv *fieldValidator) check(raw json.RawMessage) error {
	if fv.fast(raw) {
		return nil
	}
	return fv.slowCheck(raw)
}

// slowCheck is check through the JSON Schema library.
func (fv *fieldValidator) slowCheck(raw json.RawMessage) error {
	val, err := decodeValue(raw)
	if err != nil {
		if len(trimSpace(raw)) == 0 {
			return fv.errorf(RuleType, "the value is empty; want %s", fv.want())
		}
		return fv.errorf(RuleType, "%s is not valid JSON; want %s", showRaw(raw), fv.want())
	}
	if val == nil {
		return fv.errorf(RuleType, "null is not a value (null clears a field in a record write); want %s", fv.want())
	}
	switch fv.f.Type {
	case Integer, Counter:
		if n, ok := val.(json.Number); ok {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				if strings.ContainsAny(string(n), ".eE") {
					return fv.errorf(RuleType, "%s is not an integer: write it without fraction or exponent", n)
				}
				return fv.errorf(RuleType, "%s is outside the 64-bit integer range", n)
			}
		}
	case Decimal:
		if _, ok := val.(json.Number); ok {
			return fv.errorf(RuleType, "%s is a JSON number; write a decimal as a JSON string, e.g. \"1250.50\", so that no precision is lost", raw)
		}
	case Object:
		if _, ok := val.(map[string]any); !ok {
			return fv.errorf(RuleType, "%s is not %s", showValue(val), fv.want())
		}
		if fv.user != nil {
			if err := fv.user.Validate(val); err != nil {
				var ve *jsonschema.ValidationError
				if !errors.As(err, &ve) {
					return fv.errorf(RuleSchema, "the value could not be checked against its schema")
				}
				leaf := firstLeaf(ve)
				return fv.errorf(RuleSchema, "the object does not match the field's schema: the value at %s %s",
					jsonPointer(leaf.InstanceLocation), describeKind(leaf.ErrorKind))
			}
		}
		return nil
	}
	if err := fv.value.Validate(val); err != nil {
		return fv.mapError(err, val, false)
	}
	if fv.f.Type == DateTime {
		// The JSON Schema format also allows a lower-case t and z and leap
		// seconds; keep to what Go's time package parses, so that every
		// consumer can read the value.
		s := val.(string) // the schema checked the type
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fv.errorf(RuleDateTime, "%s is not a datetime (RFC 3339 with upper-case T and Z and no leap second, e.g. \"2025-07-01T08:30:00+07:00\")", show(s))
		}
	}
	if fv.f.Type == Decimal && (fv.minRat != nil || fv.maxRat != nil) {
		s := val.(string) // the schema checked the type and the form
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return fv.errorf(RuleDecimal, "%s is not a decimal", show(s))
		}
		if fv.minRat != nil && r.Cmp(fv.minRat) < 0 {
			return fv.errorf(RuleMin, "%s is less than min %v", show(s), *fv.f.Min)
		}
		if fv.maxRat != nil && r.Cmp(fv.maxRat) > 0 {
			return fv.errorf(RuleMax, "%s is greater than max %v", show(s), *fv.f.Max)
		}
	}
	return nil
}

// mapError turns a library validation error of value val into an *Error with
// one of our rules and a message in our words. elem says whether val is one
// set element (from Element) rather than a whole value.
func (fv *fieldValidator) mapError(err error, val any, elem bool) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fv.errorf(RuleType, "%s could not be checked: %v", showValue(val), err)
	}
	leaf := firstLeaf(ve)
	// what names the failing value: the value itself, or a set element.
	what := showValue(val)
	if fv.f.Type == Set && len(leaf.InstanceLocation) == 1 {
		if arr, ok := val.([]any); ok {
			if i, err := strconv.Atoi(leaf.InstanceLocation[0]); err == nil && i >= 0 && i < len(arr) {
				what = "element " + showValue(arr[i])
			}
		}
	} else if elem {
		what = "element " + what
	}
	switch k := leaf.ErrorKind.(type) {
	case *kind.Type:
		if fv.f.Type == Set && len(leaf.InstanceLocation) == 1 {
			return fv.errorf(RuleType, "%s is not a string; a set holds strings", what)
		}
		return fv.errorf(RuleType, "%s is not %s", what, fv.want())
	case *kind.Pattern:
		if fv.f.Type == Decimal {
			return fv.errorf(RuleDecimal, "%s is not a decimal (a JSON string like \"1250.50\": digits, optional '-' and fraction, no exponent)", what)
		}
		return fv.errorf(RulePattern, "%s does not match the pattern %s", what, fv.f.Pattern)
	case *kind.MinLength:
		return fv.errorf(RuleMinLength, "%s has %s, fewer than min_length %d", what, plural(k.Got, "character"), k.Want)
	case *kind.MaxLength:
		return fv.errorf(RuleMaxLength, "%s has %s, more than max_length %d", what, plural(k.Got, "character"), k.Want)
	case *kind.Minimum:
		return fv.errorf(RuleMin, "%s is less than min %v", what, *fv.f.Min)
	case *kind.Maximum:
		return fv.errorf(RuleMax, "%s is greater than max %v", what, *fv.f.Max)
	case *kind.Enum:
		return fv.errorf(RuleEnum, "%s is not one of the enum values %s", what, quoteList(fv.f.Values))
	case *kind.MaxItems:
		return fv.errorf(RuleMaxItems, "%s, more than max_items %d; remove some", plural(k.Got, "element"), k.Want)
	case *kind.UniqueItems:
		dup := ""
		if arr, ok := val.([]any); ok && k.Duplicates[0] < len(arr) {
			dup = " " + showValue(arr[k.Duplicates[0]])
		}
		return fv.errorf(RuleUniqueItems, "element%s appears more than once; list each element once (unique_items)", dup)
	case *kind.Format:
		if fv.f.Type == Date {
			return fv.errorf(RuleDate, "%s is not a date (YYYY-MM-DD)", what)
		}
		return fv.errorf(RuleDateTime, "%s is not a datetime (RFC 3339, e.g. \"2025-07-01T08:30:00+07:00\")", what)
	}
	return fv.errorf(RuleType, "%s %s", what, describeKind(leaf.ErrorKind))
}

// errorf returns an *Error for the field; the message starts with the field
// name, and each caller's text names the rule.
func (fv *fieldValidator) errorf(rule, format string, args ...any) *Error {
	msg := fmt.Sprintf("field %q: ", fv.name) + fmt.Sprintf(format, args...)
	return &Error{Field: fv.name, Rule: rule, Message: msg}
}

// want describes the JSON form of the field's values.
func (fv *fieldValidator) want() string {
	switch fv.f.Type {
	case String:
		return "a string"
	case Integer:
		return "an integer (a JSON number without fraction or exponent, within the 64-bit range)"
	case Decimal:
		return "a decimal (a JSON string like \"1250.50\")"
	case Boolean:
		return "true or false"
	case Date:
		return "a date (a JSON string \"YYYY-MM-DD\")"
	case DateTime:
		return "a datetime (a JSON string in RFC 3339 form, e.g. \"2025-07-01T08:30:00+07:00\")"
	case Enum:
		return "one of " + quoteList(fv.f.Values)
	case Set:
		return "a set (a JSON array of unique strings)"
	case Counter:
		return "a counter value (an integer within the 64-bit range)"
	case Object:
		return "a JSON object"
	}
	return string(fv.f.Type)
}

// maxShown is the number of bytes of a value that a message shows.
const maxShown = 64

// show quotes s for a message, shortened to about maxShown bytes.
func show(s string) string {
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// showRaw renders raw JSON text for a message, shortened.
func showRaw(raw []byte) string {
	s := string(trimSpace(raw))
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

// plural renders n things, e.g. "1 character", "2 characters".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// showValue renders a decoded JSON value for a message, shortened.
func showValue(v any) string {
	if s, ok := v.(string); ok {
		return show(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return string(b[:cut]) + "…"
	}
	return string(b)
}
