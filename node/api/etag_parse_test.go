package api

import (
	"slices"
	"strings"
	"testing"
)

var etagCases = []struct {
	in   []string
	weak bool
	want []string // nil with err: refused
	err  bool
}{
	{in: nil, want: nil},
	{in: []string{"*"}, want: []string{"*"}},
	{in: []string{` "a" `}, want: []string{"a"}},
	{in: []string{`"a", W/"b",  "c"`}, want: []string{"a", "W/b", "c"}},
	{in: []string{`"a", W/"b"`}, weak: true, want: []string{"a", "b"}},
	{in: []string{`"a"`, `"b"`}, want: []string{"a", "b"}},
	{in: []string{`""`}, want: []string{""}},
	{in: []string{`a`}, err: true},
	{in: []string{`"a`}, err: true},
	{in: []string{`"a" "b"`}, err: true},
	{in: []string{`"a",`}, want: []string{"a"}},
	{in: []string{`W/`}, err: true},
}

func TestParseETags(t *testing.T) {
	for _, tt := range etagCases {
		got, err := parseETags("If-Match", tt.in, tt.weak)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("parseETags(%q, weak %v) = %q, %v; want %q, error %v", tt.in, tt.weak, got, err, tt.want, tt.err)
		}
	}
}

// FuzzParseETags: any header value parses or is refused without a panic,
// and what parses, quoted again, parses to the same tags.
func FuzzParseETags(f *testing.F) {
	for _, tt := range etagCases {
		f.Add(strings.Join(tt.in, ","), tt.weak)
	}
	f.Fuzz(func(t *testing.T, v string, weak bool) {
		tags, err := parseETags("If-Match", []string{v}, weak)
		if err != nil || len(tags) == 0 || slices.Contains(tags, "*") {
			return
		}
		quoted := make([]string, len(tags))
		for i, tag := range tags {
			if w, ok := strings.CutPrefix(tag, "W/"); ok && !weak {
				quoted[i] = "W/" + quoteETag(w)
			} else {
				quoted[i] = quoteETag(tag)
			}
		}
		again, err := parseETags("If-Match", []string{strings.Join(quoted, ", ")}, weak)
		if err != nil || !slices.Equal(again, tags) {
			t.Fatalf("%q parsed to %q; quoted again %q parsed to %q, %v", v, tags, quoted, again, err)
		}
	})
}
