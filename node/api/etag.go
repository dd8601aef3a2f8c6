package api

import (
	"strings"

	"github.com/lienthong/lienthong/node/data"
)

// quoteETag is the ETag header value of the entity tag data gives: a
// strong tag, quoted (RFC 9110, section 8.8.3).
func quoteETag(tag string) string { return `"` + tag + `"` }

// parseETags reads the values of an If-Match or If-None-Match header (or a
// batch record's if_match): "*", or a comma-separated list of entity tags,
// each quoted and perhaps weak (W/"…"). It returns the tags without their
// quotes, data.AnyTag for "*", and a weak tag as W/ and its value, which
// never equals a strong one: If-Match compares strongly (RFC 9110, section
// 13.1.1). For If-None-Match, whose comparison is weak, pass weak=true to get
// weak tags without W/. None given, it returns nil.
func parseETags(name string, values []string, weak bool) ([]string, error) {
	var out []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "*" {
			out = append(out, data.AnyTag)
			continue
		}
		for v != "" {
			prefix := ""
			if rest, ok := strings.CutPrefix(v, "W/"); ok {
				v = rest
				if !weak {
					prefix = "W/"
				}
			}
			end := strings.IndexByte(v[min(1, len(v)):], '"') + 1
			if !strings.HasPrefix(v, `"`) || end == 0 {
				return nil, badRequest(`%s: %q is not an entity tag: send "*" or the ETag a read answered, quotes included, e.g. %s: "3q2-7wEBAgMEBQYHCAkKCw"`, name, v, name)
			}
			out = append(out, prefix+v[1:end])
			v = strings.TrimSpace(v[end+1:])
			if v == "" {
				break
			}
			rest, ok := strings.CutPrefix(v, ",")
			if !ok {
				return nil, badRequest("%s: entity tags are separated by commas, got %q", name, v)
			}
			v = strings.TrimSpace(rest)
		}
	}
	return out, nil
}
