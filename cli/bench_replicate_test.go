package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/cli/bench"
)

func TestBenchReplicate(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	code, out, stderr := runImportCLI(t, nil, "bench", "replicate", "--count", "2000", "--runs", "1", "--cpuprofile", prof)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(out)
	if p, err := os.ReadFile(prof); err != nil || len(p) < 2 || p[0] != 0x1f || p[1] != 0x8b {
		t.Errorf("--cpuprofile: want a gzipped profile in %s, got %d bytes (%v)", prof, len(p), err)
	}
	for _, want := range []string{"lienthong", "raw libp2p", "ratio", "B per encoded op"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
	}
	// Figure, lienthong median (min–max), reference median (min–max), ratio.
	num := `\d+(?:\.\d+)?`
	withRef := regexp.MustCompile(`(?m)^\s*(ops/s at the reader|MB/s of encoded ops)\s+` + num + `\s+\(` + num + `–` + num + `\)\s+` +
		num + `\s+\(` + num + `–` + num + `\)\s+(\d+\.\d{3,4})\s*$`)
	if rows := withRef.FindAllStringSubmatch(out, -1); len(rows) != 2 {
		t.Errorf("want the ops/s and MB/s rows with a reference and a ratio, got %q", rows)
	} else {
		for _, r := range rows {
			if strings.Trim(r[2], "0.") == "" {
				t.Errorf("%s: ratio %s", r[1], r[2])
			}
		}
	}
	lag := regexp.MustCompile(`(?m)^\s*lag (p50|p99) \(ms\)\s+` + num + `\s+\(` + num + `–` + num + `\)\s+–\s+–\s*$`)
	if rows := lag.FindAllStringSubmatch(out, -1); len(rows) != 2 || rows[0][1] != "p50" || rows[1][1] != "p99" {
		t.Errorf("want lag p50 and p99 rows, got %q", rows)
	}

	// Several counts: a table each, smallest first, then the curve.
	code, out, stderr = runImportCLI(t, nil, "bench", "replicate", "--count", "1500,1000", "--runs", "1")
	if code != 0 {
		t.Fatalf("--count 1500,1000: exit %d: %s", code, stderr)
	}
	t.Log(out)
	if i, j := strings.Index(out, "1000 citizens"), strings.Index(out, "1500 citizens"); i < 0 || j < i {
		t.Errorf("want the 1000 ops table, then the 1500 ops one, in %q", out)
	}
	curve := regexp.MustCompile(`(?m)^curve: ops/s at the reader at 1500 ops ÷ at 1000 ops: (\d+) ÷ (\d+) = (\d+\.\d\d) \(goal ≥ 0\.85: (met|not met)\)$`)
	if m := curve.FindStringSubmatch(out); m == nil {
		t.Errorf("no curve line in %q", out)
	} else {
		for _, x := range m[1:4] {
			if strings.Trim(x, "0.") == "" {
				t.Errorf("curve %q: a figure is 0", m[0])
			}
		}
	}

	for _, args := range [][]string{{"--count", "0"}, {"--runs", "0"}, {"extra"}, {"--count", "100,0"}, {"--count", "x"},
		{"--rate", "0"}, {"--rate", "10,-1"}, {"--duration", "1s"}, {"--rate", "100", "--duration", "0s"},
		{"--rate", "100", "--count", "100", "--duration", "1s"}, {"--rate", "100", "--count", "100,200"}} {
		if code, _, _ := runImportCLI(t, nil, append([]string{"bench", "replicate"}, args...)...); code != ExitUsage {
			t.Errorf("bench replicate %v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestBenchReplicateRate runs bench replicate at two small fixed offered
// loads, for a duration and for a count.
func TestBenchReplicateRate(t *testing.T) {
	code, out, stderr := runImportCLI(t, nil, "bench", "replicate", "--rate", "200,1000", "--duration", "1s", "--runs", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(out)
	num := `\d+(?:\.\d+)?`
	// offered, ops, acked ops/s, reader ops/s, lag p50, p99, max, goal.
	row := regexp.MustCompile(`(?m)^\s*(200|1000)\s+(\d+)\s+(` + num + `)\s+(` + num + `)\s+(` + num + `)\s+(` + num + `)\s+(` + num + `)\s+(–|≤ 20 ms: (?:met|not met))\s*$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 || rows[0][1] != "200" || rows[1][1] != "1000" {
		t.Fatalf("want a row for 200 then 1000 ops/s, got %q in %q", rows, out)
	}
	for _, r := range rows {
		if r[2] != r[1] { // 1 s at the rate
			t.Errorf("%s ops/s for 1s: %s ops", r[1], r[2])
		}
		for _, x := range r[3:5] {
			if strings.Trim(x, "0.") == "" {
				t.Errorf("%s ops/s: an achieved rate is 0 in %q", r[1], r[0])
			}
		}
		if (r[1] == "1000") != (r[8] != "–") {
			t.Errorf("%s ops/s: goal %q", r[1], r[8])
		}
	}

	code, out, stderr = runImportCLI(t, nil, "bench", "replicate", "--rate", "500", "--count", "300", "--runs", "1", "--json")
	if code != 0 {
		t.Fatalf("--count 300 --json: exit %d: %s", code, stderr)
	}
	var res bench.LoadResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Rates) != 1 || res.Rates[0].Rate != 500 || res.Rates[0].Count != 300 || len(res.Rates[0].Results) != 1 {
		t.Fatalf("got %+v", res)
	}
	run := res.Rates[0].Results[0]
	if run.OfferedOpsPerS != 500 || run.OpsPerS <= 0 || run.WriteOpsPerS <= 0 || run.LagMaxMs < run.LagP99Ms || run.LagP99Ms < run.LagP50Ms || run.LagP50Ms < 0 {
		t.Errorf("run %+v", run)
	}
}
