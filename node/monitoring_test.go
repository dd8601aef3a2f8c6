package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMonitoringNamesExist: every lienthong_ metric that the alert rules
// and the dashboard in docs/monitoring use is defined in the code and listed
// in docs/operations.md, so a renamed metric cannot leave an alert that
// never fires. (make alerts checks the rules' syntax and behaviour with
// promtool.)
func TestMonitoringNamesExist(t *testing.T) {
	out, err := exec.Command("git", "-C", "..", "ls-files", "--cached", "--others", "--exclude-standard", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var code strings.Builder
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		code.Write(b)
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`lienthong_[a-z0-9_]+`)
	for _, file := range []string{"alerts.yml", "alerts_test.yml", "grafana-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join("../docs/monitoring", file))
		if err != nil {
			t.Fatal(err)
		}
		names := name.FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no lienthong metric", file)
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if !strings.Contains(code.String(), `"`+base+`"`) {
				t.Errorf("%s uses %s, which no code defines", file, n)
			}
			if !strings.Contains(string(ops), base) && !strings.Contains(string(ops), "`_"+strings.SplitN(base, "_", 3)[2]) {
				t.Errorf("%s uses %s, which docs/operations.md does not list", file, n)
			}
		}
	}
}
