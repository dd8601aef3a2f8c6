package cli_test

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSnapshotCatchUp is the acceptance test of history truncation with
// real processes: a reader kept away past the owner's truncation point
// catches up through the owner's dataset snapshot; the reader is killed with
// SIGKILL in the middle of the transfer, and after its restart the transfer
// resumes where it stopped; then ops flow again.
func TestSnapshotCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	c := newFedCluster(t, []string{"s1"}, []string{"hcm", "moh"})
	c.waitHealthy(60*time.Second, []string{"s1"}, []string{"hcm", "moh"})
	// hcm keeps ops for 2 s and sends snapshots in 16 KiB chunks, so the
	// transfer takes hundreds of chunks and can be interrupted.
	c.kill("hcm")
	setConfig(t, c.node("hcm").dir, "retention: 168h0m0s", "retention: 2s")
	setConfig(t, c.node("hcm").dir, "snapshot_chunk_bytes: 4194304", "snapshot_chunk_bytes: 16384")
	c.restart("hcm")
	c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
	r := c.mustCall("s1", "PUT", "/v1/datasets/population.identity", map[string]any{
		"name": "population.identity", "entity_type": "citizen", "owner": "hcm", "readers": []string{"moh"},
		"fields": []string{"full_name", "birth_date", "sex", "birth_province", "residence_province", "ethnicity", "phones"}}, http.StatusCreated)
	c.waitConverged(30*time.Second, metaIndexOf(t, r))

	dir := t.TempDir()
	importAt := func(file string) {
		t.Helper()
		n := c.node("hcm")
		if res := run(t, nil, "import", "population.identity", file, "--drop-other-fields", "--api", n.url(), "--token", n.write); res.code != 0 {
			t.Fatalf("import at hcm: exit %d %s", res.code, res.stderr)
		}
	}
	first := genFile(t, dir, "first.jsonl", "citizen", "--count", "500", "--seed", "1")
	importAt(first)
	c.waitFor(30*time.Second, "moh has the first 500 ops", func() (bool, string) {
		h := streamHead(t, c, "moh", "population.identity", "hcm")
		return h == 500, strconv.FormatUint(h, 10)
	})

	// moh goes away; hcm writes 30,000 more and, 2 s later, truncates them:
	// moh, silent for longer than the retention, holds nothing back.
	c.kill("moh")
	importAt(genFile(t, dir, "more.jsonl", "citizen", "--count", "30000", "--seed", "2"))
	const total = 30500
	c.waitFor(30*time.Second, "hcm truncates its history", func() (bool, string) {
		f := streamFloor(t, c, "hcm", "population.identity", "hcm")
		return f == total, "floor " + strconv.FormatUint(f, 10)
	})

	// moh restarts, is told the ops it lacks are gone, and fetches the
	// snapshot; it is killed once some chunks are in.
	c.restart("moh")
	var chunks float64
	c.waitFor(60*time.Second, "moh receives snapshot chunks", func() (bool, string) {
		m := scrape(t, c, "moh")
		chunks = m[`lienthong_replica_snapshot_chunks_total{direction="received"}`]
		if m[`lienthong_replica_snapshots_total{event="installed"}`] > 0 {
			t.Fatalf("the snapshot was installed before it could be interrupted (after %v chunks): make it larger", chunks)
		}
		return chunks >= 20, "chunks received: " + strconv.FormatFloat(chunks, 'f', 0, 64)
	})
	c.kill("moh")
	c.restart("moh")
	start := time.Now()
	c.waitFor(120*time.Second, "moh installs the snapshot", func() (bool, string) {
		h := streamHead(t, c, "moh", "population.identity", "hcm")
		return h == total, "head " + strconv.FormatUint(h, 10)
	})
	m := scrape(t, c, "moh")
	if m[`lienthong_replica_snapshots_total{event="resumed"}`] != 1 || m[`lienthong_replica_snapshots_total{event="started"}`] != 0 {
		t.Fatalf("after the restart the transfer did not resume: started %v, resumed %v",
			m[`lienthong_replica_snapshots_total{event="started"}`], m[`lienthong_replica_snapshots_total{event="resumed"}`])
	}
	after := m[`lienthong_replica_snapshot_chunks_total{direction="received"}`]
	t.Logf("SNAPSHOT: %v chunks before the kill, %v after the restart, installed %s after it", chunks, after, time.Since(start).Round(time.Millisecond))
	if !logHas(t, c.node("moh").log, "snapshot: resuming") {
		t.Fatal("moh's log does not say it resumed the snapshot")
	}
	if f := streamFloor(t, c, "moh", "population.identity", "hcm"); f != total {
		t.Fatalf("moh's floor is %d, want %d (the snapshot's head)", f, total)
	}
	keys := keysOf(t, first)
	for k := range keysOf(t, filepath.Join(dir, "more.jsonl")) {
		keys[k] = true
	}
	c.waitVerified(30*time.Second, map[string][]string{"population.identity": {"hcm", "moh"}},
		map[string]map[string]bool{"population.identity": keys}, nil)

	// Ops flow again from the installed head.
	var recs strings.Builder
	for i := 0; i < 10; i++ {
		recs.WriteString(`{"key":"079099999` + strconv.Itoa(100+i) + `","fields":{"full_name":"Sau","birth_date":"1999-09-09","sex":"female","birth_province":"79"}}` + "\n")
	}
	n := c.node("hcm")
	if res := runInput(t, nil, recs.String(), "import", "population.identity", "-", "--api", n.url(), "--token", n.write); res.code != 0 {
		t.Fatalf("import at hcm: %d %s", res.code, res.stderr)
	}
	c.waitFor(30*time.Second, "moh gets the ops after the snapshot", func() (bool, string) {
		h := streamHead(t, c, "moh", "population.identity", "hcm")
		return h == total+10, "head " + strconv.FormatUint(h, 10)
	})
	c.noQuarantine(t)
}

// setConfig replaces old with new in the node's lienthong.yaml.
func setConfig(t *testing.T, dir, old, new string) {
	t.Helper()
	path := filepath.Join(dir, "lienthong.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// streamFloor returns the floor of stream (dataset, origin) in node name's status.
func streamFloor(t *testing.T, c *fedCluster, name, dataset, origin string) uint64 {
	t.Helper()
	_, floor := streamStatus(t, c, name, dataset, origin)
	return floor
}

// scrape returns node name's Prometheus metrics: sample line -> value.
func scrape(t *testing.T, c *fedCluster, name string) map[string]float64 {
	t.Helper()
	r := c.mustCall(name, "GET", "/metrics", nil, http.StatusOK)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out
}

func logHas(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}
