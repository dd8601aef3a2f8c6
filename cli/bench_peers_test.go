package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/cli/bench"
)

// peersMissing lists what bench peers needs and this machine lacks, the way
// the scripts look for it, and the Debian packages that provide it.
func peersMissing() (missing, pkgs []string) {
	pg := false
	if _, err := exec.LookPath("initdb"); err == nil {
		pg = true
	} else if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		pg = true
	}
	if !pg {
		missing = append(missing, "PostgreSQL (no initdb on PATH or under /usr/lib/postgresql/*/bin)")
		pkgs = append(pkgs, "postgresql")
	}
	nats := false
	if _, err := exec.LookPath("nats-server"); err == nil {
		nats = true
	} else {
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"} {
			if _, err := os.Stat(p); err == nil {
				nats = true
			}
		}
	}
	if !nats {
		missing = append(missing, "nats-server (not on PATH, nor in /usr/sbin, /usr/bin, /usr/local/bin)")
		pkgs = append(pkgs, "nats-server")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		missing = append(missing, "bash (not on PATH)")
		pkgs = append(pkgs, "bash")
	}
	return missing, pkgs
}

// TestBenchPeers runs bench peers end to end with real PostgreSQL and NATS
// servers. Without them it skips, saying what is missing, unless
// LIENTHONG_BENCH_PEERS=1 makes their absence a failure.
func TestBenchPeers(t *testing.T) {
	if missing, pkgs := peersMissing(); len(missing) > 0 {
		msg := "bench peers needs " + strings.Join(missing, " and ") + ": install it (apt-get install -y " + strings.Join(pkgs, " ") +
			") to run this test; set LIENTHONG_BENCH_PEERS=1 to fail instead of skipping"
		if os.Getenv("LIENTHONG_BENCH_PEERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb strings.Builder
	start := time.Now()
	code := Main(ctx, []string{"bench", "peers", "--count", "2000", "--runs", "1", "--json"}, &IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	t.Logf("bench peers in %v:\n%s", time.Since(start).Round(time.Millisecond), errb.String())
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Count   int                 `json:"count"`
		Runs    int                 `json:"runs"`
		Results []bench.PeersSystem `json:"results"`
	}
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out.String())
	}
	if got.Count != 2000 || got.Runs != 1 || len(got.Results) != 2 {
		t.Fatalf("report: %s", out.String())
	}
	for i, want := range []string{"postgres", "nats"} {
		s := got.Results[i]
		if s.System != want || s.Version == "" || len(s.Runs) != 1 {
			t.Errorf("system %d: %+v, want %s with a version and one run", i, s, want)
			continue
		}
		r := s.Runs[0]
		if r.EndToEndPerS <= 0 || r.PublisherPerS <= 0 || r.LoadS <= 0 || r.ElapsedS <= 0 || r.Polls < 1 {
			t.Errorf("%s: figures %+v", want, r)
		}
		if s.EndToEndMedian != r.EndToEndPerS || s.PublisherMedian != r.PublisherPerS || s.ElapsedMedian != r.ElapsedS {
			t.Errorf("%s: the medians of one run are not that run: %+v", want, s)
		}
	}
}

func TestBenchPeersUsage(t *testing.T) {
	for _, args := range [][]string{{"--count", "0"}, {"--runs", "0"}, {"--systems", "postgres,mysql"}, {"--systems", "nats,nats"}, {"extra"}} {
		if code, _, _ := runImportCLI(t, nil, append([]string{"bench", "peers"}, args...)...); code != ExitUsage {
			t.Errorf("bench peers %v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
