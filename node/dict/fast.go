package dict

import (
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The fast path of value checks. Most values written are plain: a string
// without escapes, a small integer, a boolean, a set of such strings.
// Deciding those through the JSON Schema library costs most of a write's
// validation (a decode into any, the library's generic walk), on the
// owner and again at every replica. fast accepts only what the full check
// certainly accepts, by the same rules (Go's regexp for patterns, lengths
// in code points, time.Parse for dates); anything else, valid or not, goes
// to the full check, which also words every error. FuzzFastAgrees holds
// the two to each other.

// fastField is what the fast path needs of one field, compiled once.
type fastField struct {
	pattern *regexp.Regexp // string, set elements; nil when none
}

// fast reports whether raw is certainly a valid whole value of the field;
// false means "not sure".
func (fv *fieldValidator) fast(raw []byte) bool {
	t := trimSpace(raw)
	switch fv.f.Type {
	case String:
		s, ok := plainString(t)
		return ok && fv.fastString(s)
	case Enum:
		s, ok := plainString(t)
		return ok && slices.Contains(fv.f.Values, s)
	case Date:
		s, ok := plainString(t)
		if !ok {
			return false
		}
		_, err := time.Parse("2006-01-02", s)
		return err == nil
	case Boolean:
		return string(t) == "true" || string(t) == "false"
	case Integer, Counter:
		n, ok := smallInt(t)
		if !ok {
			return false
		}
		// Exact: n and the bounds are float64s that hold them exactly.
		return (fv.f.Min == nil || float64(n) >= *fv.f.Min) && (fv.f.Max == nil || float64(n) <= *fv.f.Max)
	case Set:
		return fv.fastSet(t)
	}
	return false
}

// fastString reports whether s, a string value or set element, certainly
// meets the field's length and pattern rules.
func (fv *fieldValidator) fastString(s string) bool {
	if fv.f.MinLength != nil || fv.f.MaxLength != nil {
		n := utf8.RuneCountInString(s)
		if fv.f.MinLength != nil && n < *fv.f.MinLength || fv.f.MaxLength != nil && n > *fv.f.MaxLength {
			return false
		}
	}
	return fv.fastF.pattern == nil || fv.fastF.pattern.MatchString(s)
}

// fastSet reports whether t is certainly a valid set value: an array of
// distinct plain strings, each valid, within max_items.
func (fv *fieldValidator) fastSet(t []byte) bool {
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return false
	}
	var elems []string
	body := t[1 : len(t)-1]
	i := skipSpace(body, 0)
	for i < len(body) {
		if body[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(body) && body[j] != '"' {
			j++
		}
		if j == len(body) {
			return false
		}
		s, ok := plainString(body[i : j+1])
		if !ok || !fv.fastString(s) || slices.Contains(elems, s) {
			return false
		}
		elems = append(elems, s)
		i = skipSpace(body, j+1)
		if i == len(body) {
			break
		}
		if body[i] != ',' {
			return false
		}
		if i = skipSpace(body, i+1); i == len(body) {
			return false // a trailing comma
		}
	}
	return fv.f.MaxItems == nil || len(elems) <= *fv.f.MaxItems
}

// plainString returns the string a JSON string literal t holds when it has
// no escapes and no control characters and is valid UTF-8.
func plainString(t []byte) (string, bool) {
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return "", false
	}
	body := t[1 : len(t)-1]
	for _, c := range body {
		if c == '"' || c == '\\' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

// smallInt returns the integer t holds when it is a JSON integer of at
// most 15 digits (so that a float64 holds it exactly).
func smallInt(t []byte) (int64, bool) {
	d := t
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || d[0] == '0' && len(d) > 1 {
		return 0, false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(t), 10, 64)
	return n, err == nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
