package dict

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TextError is JSON text that parses but that lienthong does not store,
// because a reader could not round-trip it: invalid UTF-8, an escaped lone
// surrogate (which decoders turn into U+FFFD, or refuse) or an object with
// the same name twice (which decoders resolve differently). Offset is the
// byte of the input where the problem starts, Path the JSON pointer of the
// value it is in ("" for the top level).
type TextError struct {
	Offset  int
	Path    string
	Message string // what is wrong
	Hint    string // what to do
}

func (e *TextError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Offset)
	if e.Path != "" {
		where = "in " + e.Path + " " + where
	}
	return fmt.Sprintf("%s %s; %s", e.Message, where, e.Hint)
}

// CheckText reports the first TextError in b, which must be syntactically
// valid JSON (it is not a parser: run it after one; on other input it
// returns some error or none, and never panics). Duplicate names are
// compared after unescaping, so {"a":1,"\u0061":2} is a duplicate.
func CheckText(b []byte) error {
	var stack []container // the containers open at the current position
	expectName := false   // the next string is a name of the innermost object
	fail := func(err *TextError, depth int) error {
		var path strings.Builder
		for _, c := range stack[:depth] {
			if c.object {
				path.WriteString("/" + c.name)
			} else {
				path.WriteString("/" + strconv.Itoa(c.index))
			}
		}
		err.Path = path.String()
		return err
	}
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case '{', '[':
			stack = append(stack, container{object: c == '{'})
			expectName = c == '{'
			i++
		case '}', ']':
			if len(stack) > 0 { // else not JSON: the parser says so
				stack = stack[:len(stack)-1]
			}
			expectName = false
			i++
		case ',':
			if top := len(stack) - 1; top >= 0 {
				expectName = stack[top].object
				stack[top].index++
			}
			i++
		case '"':
			end, escaped, err := scanString(b, i)
			if err != nil {
				return fail(err, len(stack))
			}
			if expectName {
				name := string(b[i+1 : end-1])
				if escaped {
					json.Unmarshal(b[i:end], &name) // checked: valid
				}
				top := &stack[len(stack)-1]
				if top.seen(name) {
					return fail(&TextError{Offset: i, Message: fmt.Sprintf("duplicate key %q", name), Hint: "give each key of an object once"}, len(stack)-1)
				}
				expectName = false
			}
			i = end
		default:
			i++
		}
	}
	return nil
}

// container is an object or array open while CheckText scans.
type container struct {
	object bool
	name   string          // an object's current member
	names  map[string]bool // an object's names, once it has two
	index  int             // an array's current element
}

// seen records name as the object's current member and reports whether the
// object had it already. Most objects are small: the first name is kept
// without a map.
func (c *container) seen(name string) bool {
	switch {
	case c.index == 0:
	case c.names == nil:
		c.names = map[string]bool{c.name: true}
		fallthrough
	default:
		if c.names[name] {
			return true
		}
		c.names[name] = true
	}
	c.name = name
	return false
}

// scanString checks the string literal starting at b[start] (a quote) and
// returns the offset after its closing quote, and whether it has escapes.
func scanString(b []byte, start int) (end int, escaped bool, err *TextError) {
	for i := start + 1; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 < len(b) && b[i+1] != 'u' {
				i += 2
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				return 0, false, &TextError{Offset: i, Message: `malformed \u escape`, Hint: `write \u and four hex digits`}
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if r2, ok := hex4(b, i+8); !ok || b[i+6] != '\\' || b[i+7] != 'u' || r2 < 0xDC00 || r2 >= 0xE000 {
					return 0, false, &TextError{Offset: i, Message: fmt.Sprintf(`lone surrogate \u%04X (a high surrogate without its low half)`, r), Hint: "send the character itself, in UTF-8"}
				}
				i += 12
			case r >= 0xDC00 && r < 0xE000:
				return 0, false, &TextError{Offset: i, Message: fmt.Sprintf(`lone surrogate \u%04X (a low surrogate without its high half)`, r), Hint: "send the character itself, in UTF-8"}
			default:
				i += 6
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, &TextError{Offset: i, Message: "invalid UTF-8", Hint: "send text in UTF-8"}
			}
			i += n
		}
	}
	return 0, false, &TextError{Offset: start, Message: "unterminated string", Hint: "close it with a quote"}
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// trimSpace removes JSON whitespace (space, tab, line feed, carriage return;
// not the vertical tab or form feed that bytes.TrimSpace also removes) from
// both ends of b.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
