package cli_test

import (
	"strings"
	"testing"
)

// TestBenchMemory runs the benchmark through the binary (it starts
// `lienthong dev` from its own executable) on a few hundred entities.
func TestBenchMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and idles 10 s")
	}
	r := run(t, nil, "bench", "memory", "--count", "200")
	if r.code != 0 || !strings.Contains(r.stdout, "RSS idle") || strings.Contains(r.stderr, "deprecated") {
		t.Errorf("bench memory --count 200: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
