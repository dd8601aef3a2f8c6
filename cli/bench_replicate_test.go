package cli

import (
	"regexp"
	"strings"
	"testing"
)

func TestBenchReplicate(t *testing.T) {
	code, out, stderr := runImportCLI(t, nil, "bench", "replicate", "--count", "2000", "--runs", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(out)
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

	for _, args := range [][]string{{"--count", "0"}, {"--runs", "0"}, {"extra"}} {
		if code, _, _ := runImportCLI(t, nil, append([]string{"bench", "replicate"}, args...)...); code != ExitUsage {
			t.Errorf("bench replicate %v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
