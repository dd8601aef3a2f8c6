package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/cli/internal/fed"
	"github.com/lienthong/lienthong/node"
)

// TestStartRefusesDamage damages a stopped node's directory the ways issue
// 10 found (finding 4: start succeeded in silence with writes gone, or with
// an empty store; finding 3: a damaged SSTable footer panicked start; a
// flipped byte in identity.key started the node with a key whose signatures
// failed). Each time start exits with status 1 and a message naming the
// damage and what to do.
func TestStartRefusesDamage(t *testing.T) {
	template := filepath.Join(t.TempDir(), "hcm")
	bin := lienthongBinary(t)
	mustRun(t, nil, "init", "--dir", template, "--name", "hcm", "--listen-api", "127.0.0.1:0")
	// Two runs: the first run's writes are flushed to an SSTable when the
	// second opens the store; the second run's are in its WAL.
	var addrs node.Addresses
	for run := range 2 {
		var logs bytes.Buffer
		p, err := fed.RunPinned(context.Background(), bin, template, &logs, false, addrs, "start", "--dir", template, "--log-level", "warn")
		if err != nil {
			t.Fatalf("start: %v\n%s", err, logs.String())
		}
		addrs = p.Addrs
		if run == 0 {
			mustRun(t, nil, "schema", "put", "--dir", template, "../docs/examples/schemas/citizen.json")
			mustRun(t, nil, "dataset", "create", "--dir", template, "--name", "population.identity", "--type", "citizen",
				"--fields", "full_name,birth_date,sex,birth_province", "--owner", "hcm")
		}
		for i := range 20 {
			mustRun(t, nil, "put", "--dir", template, "population.identity", fmt.Sprintf("07909%d%06d", run, i),
				fmt.Sprintf(`{"full_name":"Người %d","birth_date":"1991-01-01","sex":"female","birth_province":"79"}`, i))
		}
		if err := p.Stop(time.Minute); err != nil || !p.Exit().Success() {
			t.Fatalf("stop: %v %v\n%s", err, p.Exit(), logs.String())
		}
	}
	data := filepath.Join(template, "data")
	files := func(pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(data, pattern))
		slices.Sort(m)
		return m
	}
	if len(files("*.sst")) == 0 {
		t.Fatal("no SSTable after two runs")
	}
	rewrite := func(path string, damage func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, damage(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(at func(n int) int, n int) func([]byte) []byte {
		return func(b []byte) []byte {
			for i := at(len(b)); i < at(len(b))+n; i++ {
				b[i] ^= 0xff
			}
			return b
		}
	}
	tests := []struct {
		name   string
		damage func(dir string)
		want   []string
	}{
		{"WAL cut to half", func(dir string) {
			var wal string
			for _, f := range files("*.log") {
				if fi, err := os.Stat(f); err == nil && fi.Size() > 1024 {
					wal = f
				}
			}
			rewrite(strings.Replace(wal, template, dir, 1), func(b []byte) []byte { return b[:len(b)/2] })
		}, []string{"write-ahead log lost acknowledged writes"}},
		{"SSTable footer", func(dir string) {
			sst := files("*.sst")[0]
			rewrite(strings.Replace(sst, template, dir, 1), flip(func(n int) int { return n - 20 }, 10))
		}, []string{"data on disk is corrupt", filepath.Base(files("*.sst")[0])}},
		{"manifest marker deleted", func(dir string) {
			os.Remove(strings.Replace(files("marker.manifest.*")[0], template, dir, 1))
		}, []string{"manifest marker (marker.manifest.*) is missing"}},
		{"identity key byte flipped", func(dir string) {
			rewrite(filepath.Join(dir, "identity.key"), flip(func(n int) int { return n - 5 }, 1))
		}, []string{"identity key", "is damaged", "restore it from a backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "hcm")
			if out, err := exec.Command("cp", "-a", template, dir).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			tt.damage(dir)
			start := time.Now()
			r := run(t, nil, "start", "--dir", dir, "--log-level", "error")
			if r.code != 1 {
				t.Fatalf("start on damage: exit %d after %v\n%s", r.code, time.Since(start), lastLines(r.stderr, 20))
			}
			for _, w := range append(tt.want, "restore") {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("start on damage: stderr does not say %q:\n%s", w, lastLines(r.stderr, 20))
				}
			}
			if strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("start on damage dumped goroutines:\n%s", lastLines(r.stderr, 20))
			}
			t.Logf("%s", strings.TrimSpace(r.stderr))
		})
	}
}
