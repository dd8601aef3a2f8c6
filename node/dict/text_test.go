package dict_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lienthong/lienthong/node/dict"
)

func TestCheckText(t *testing.T) {
	for _, tt := range []struct {
		in     string
		offset int    // -1: no error
		path   string // of the error
		msg    string
	}{
		{`{"a":1,"b":[1,{"a":2}]}`, -1, "", ""},
		{`"Nguyễn Văn An"`, -1, "", ""},
		{`"\ud83d\ude00 \u00e9 \n \\ \" \/"`, -1, "", ""},
		{`[{"a":1},{"a":1}]`, -1, "", ""}, // the same key in two objects
		{`{"a":{"x":1},"b":{"x":1}}`, -1, "", ""},
		{`{"a":1,"a":2}`, 7, "", `duplicate key "a"`},
		{`{"a":1,"\u0061":2}`, 7, "", `duplicate key "a"`},
		{`{"f":{"x":1,"y":2,"x":3}}`, 18, "/f", `duplicate key "x"`},
		{`[0,{"k":[1,2,{"z":0,"z":1}]}]`, 20, "/1/k/2", `duplicate key "z"`},
		{"\"ab\xffc\"", 3, "", "invalid UTF-8"},
		{"{\"k\":[\"ok\",\"\xc3\x28\"]}", 12, "/k/1", "invalid UTF-8"},
		{`"\ud800"`, 1, "", `lone surrogate \uD800`},
		{`"x\ud800\u0041"`, 2, "", `lone surrogate \uD800`},
		{`{"n":"\udc00"}`, 6, "/n", `lone surrogate \uDC00`},
	} {
		err := dict.CheckText([]byte(tt.in))
		if tt.offset < 0 {
			if err != nil {
				t.Errorf("%s: %v, want no error", tt.in, err)
			}
			continue
		}
		var te *dict.TextError
		if !errors.As(err, &te) || te.Offset != tt.offset || te.Path != tt.path || !strings.Contains(te.Message, tt.msg) || te.Hint == "" {
			t.Errorf("%q: %#v, want %q at byte %d in %q with a hint", tt.in, err, tt.msg, tt.offset, tt.path)
		}
	}
}

// FuzzCheckText: CheckText never panics, and what it passes of valid JSON
// is UTF-8 without duplicate keys, which decodes and re-encodes to the same
// values.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `"\ud800"`, "\"\xff\"", `[{"a":[{"b":1,"b":2}]}]`, `}{]`, `"\`, `{"a":"\u00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := dict.CheckText(b)
		if err != nil || !json.Valid(b) {
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("passed invalid UTF-8 %q", b)
		}
		if strings.Contains(string(b), `\u`) {
			var v any
			json.Unmarshal(b, &v)
			out, _ := json.Marshal(v)
			if strings.ContainsRune(string(out), utf8.RuneError) && !strings.Contains(strings.ToLower(string(b)), `\ufffd`) && !strings.ContainsRune(string(b), utf8.RuneError) {
				t.Fatalf("passed %q, which decodes with a replacement character: %s", b, out)
			}
		}
		if dup := duplicateKey(json.NewDecoder(strings.NewReader(string(b)))); dup != "" {
			t.Fatalf("passed %q, which has key %q twice in an object", b, dup)
		}
	})
}

// duplicateKey walks one JSON value with the standard decoder's tokens and
// returns a key that appears twice in one object, or "".
func duplicateKey(dec *json.Decoder) string {
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, _ := dec.Token()
			key, _ := k.(string)
			if seen[key] {
				return key
			}
			seen[key] = true
			if d := duplicateKey(dec); d != "" {
				return d
			}
		}
		dec.Token()
	case json.Delim('['):
		for dec.More() {
			if d := duplicateKey(dec); d != "" {
				return d
			}
		}
		dec.Token()
	}
	return ""
}
