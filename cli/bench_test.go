package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/cli/bench"
)

func TestBenchWrite(t *testing.T) {
	code, out, stderr := runImportCLI(t, nil, "bench", "write", "--count", "200", "--writers", "1,4", "--runs", "1", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(out)
	if !strings.Contains(out, "lienthong writes/s") || !strings.Contains(out, "raw pebble writes/s") || !strings.Contains(out, "ratio") {
		t.Errorf("no table header in %q", out)
	}
	// writers, lienthong benchMedian (min–max), pebble benchMedian (min–max), ratio.
	row := regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+\(\d+–\d+\)\s+\d+\s+\(\d+–\d+\)\s+\d+\.\d\d\s*$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 || rows[0][1] != "1" || rows[1][1] != "4" {
		t.Errorf("want a row for 1 and for 4 writers, got %q", rows)
	}

	code, out, _ = runImportCLI(t, nil, "bench", "write", "--count", "50", "--writers", "2", "--runs", "1", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var res struct{ Results []bench.WriteRow }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if r := res.Results; len(r) != 1 || r[0].Writers != 2 || len(r[0].Lienthong) != 1 || r[0].LtMedian <= 0 || r[0].PbMedian <= 0 || r[0].Ratio <= 0 {
		t.Errorf("--json results = %+v", r)
	}

	for _, args := range [][]string{{"--writers", "0"}, {"--writers", "a"}, {"--count", "0"}, {"--runs", "0"}, {"extra"}} {
		if code, _, _ := runImportCLI(t, nil, append([]string{"bench", "write"}, args...)...); code != ExitUsage {
			t.Errorf("bench write %v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
