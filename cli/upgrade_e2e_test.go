package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRollingUpgrade runs the runbook of docs/operations.md, "Rolling
// upgrade" (issue 12), with real processes: a federation of three seeds and
// two members started with one build ("old") is moved node by node to
// another build of the tree ("new", another node.Version), members first,
// then the seeds, the Raft leader last, while a writer keeps writing to the
// dataset's owner. Each node is stopped with SIGTERM and started with the
// new binary on its directory; before the next one, the runbook's checks
// must hold: /readyz answers 200, lienthong_build_info names the new
// version, and the reader has caught up with the owner. At the end every
// write the owner acknowledged is at the owner and the reader with its last
// acknowledged value (the test's own record, not replica against replica),
// a metadata write commits, every node runs the new version and the seeds
// have a leader.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice and starts five node processes")
	}
	oldBin, newBin := lienthongBinary(t), lienthongBuild(t, "upgrade-test-new")
	oldVersion, newVersion := binaryVersion(t, oldBin), binaryVersion(t, newBin)
	if oldVersion == newVersion {
		t.Fatalf("both builds say version %q", oldVersion)
	}
	seeds, members := []string{"s1", "s2", "s3"}, []string{"moh", "mps"} // sorted, as the control plane lists non-voters
	c := newFedCluster(t, seeds, members)
	c.waitHealthy(60*time.Second, seeds, members)
	for _, name := range c.names {
		if v := buildVersion(t, c, name); v != oldVersion {
			t.Fatalf("%s runs version %q before the upgrade, want %q", name, v, oldVersion)
		}
	}

	// population.identity: owner mps, reader moh.
	const pop, owner, reader = "population.identity", "mps", "moh"
	c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
	idx := metaIndexOf(t, c.mustCall("s1", "PUT", "/v1/datasets/"+pop, map[string]any{"name": pop, "entity_type": "citizen", "owner": owner,
		"readers": []string{reader}, "fields": []string{"full_name", "birth_date", "sex", "birth_province"}}, http.StatusCreated))
	c.waitConverged(30*time.Second, idx)

	// The writer: PUTs to the owner, one at a time, through a client that
	// retries after 503 with Retry-After as the runbook says clients do;
	// the model records what each PUT's client saw.
	m := &model{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			seq := m.next()
			value := fmt.Sprintf("w%d", seq)
			w := m.put(c, modelWrite{dataset: pop, key: fmt.Sprintf("0790900%05d", i%40), value: value, epoch: 1, seq: seq, at: owner},
				map[string]any{"full_name": value, "birth_date": "1990-01-02", "sex": "female", "birth_province": "79"})
			if w.outcome != acked {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	ackedSince := func(n int, why string) {
		t.Helper()
		c.waitFor(30*time.Second, fmt.Sprintf("%d acknowledged writes %s", n, why), func() (bool, string) {
			got := m.count(acked, pop, 0)
			return got >= n, fmt.Sprint(got)
		})
	}
	ackedSince(20, "before the upgrade")

	// upgrade is one step of the runbook for node name.
	upgrade := func(name string) {
		t.Helper()
		before := m.count(acked, pop, 0)
		n := c.node(name)
		if err := n.Upgrade(t.Context(), 10*time.Second, newBin); err != nil {
			t.Fatalf("upgrade %s: %v\n%s", name, err, tail(n.log, 30))
		}
		restarted := time.Now()
		c.waitFor(30*time.Second, name+": /readyz answers 200", func() (bool, string) {
			r, err := c.call(name, "GET", "/readyz", nil)
			if err != nil {
				return false, err.Error()
			}
			return r.status == http.StatusOK, r.String()
		})
		if v := buildVersion(t, c, name); v != newVersion {
			t.Fatalf("%s: lienthong_build_info says version %q after the upgrade, want %q", name, v, newVersion)
		}
		// The reader has caught up, as `lienthong status` shows it: the
		// reader holds the owner's stream up to where it was once this
		// node was back, and the owner lists the reader's lag (it lists a
		// reader once it has pulled since the owner started). The lag
		// itself is not 0 while the writer writes (see the runbook).
		head := streamHead(t, c, owner, pop, owner)
		var lag int
		c.waitFor(30*time.Second, fmt.Sprintf("%s to hold %s/%s up to seq %d, and %s to list its lag", reader, pop, owner, head, owner), func() (bool, string) {
			var listed bool
			lag, listed = readerLag(t, c, owner, pop, reader)
			got := streamHead(t, c, reader, pop, owner)
			return listed && got >= head, fmt.Sprintf("%s at seq %d; lag listed %v", reader, got, listed)
		})
		ackedSince(before+10, "after upgrading "+name)
		t.Logf("upgraded %s: ready and caught up %s after its start; %d writes acknowledged during the step; lienthong_replica_lag_ops %d", name, time.Since(restarted).Round(time.Millisecond), m.count(acked, pop, 0)-before, lag)
		if name == owner {
			t.Logf("%s answered %d writes 503 after its start (held, with Retry-After; the writer retried)", owner, heldWrites(t, c, owner))
		}
	}

	// 1. Members first.
	for _, name := range members {
		upgrade(name)
	}
	// 2. The seeds one by one, the Raft leader (as meta status names it)
	// last.
	upgraded := map[string]bool{}
	for range seeds {
		leader := metaStatusLeader(t, c, owner)
		next := ""
		for _, s := range seeds {
			if !upgraded[s] && (next == "" || next == leader) {
				next = s
			}
		}
		if next == leader {
			t.Logf("upgrading the leader %s last", leader)
		}
		upgrade(next)
		upgraded[next] = true
	}
	close(stop)
	wg.Wait()

	// 3. Nothing lost: every acknowledged write at the owner and the reader
	// with its last acknowledged value, nothing at the seeds.
	readers := map[string][]string{pop: {owner, reader}}
	var f figures
	c.waitFor(30*time.Second, "the owner's and the reader's exports to match the model", func() (bool, string) {
		stores, err := exports(c, []string{pop}, readers)
		if err != nil {
			return false, err.Error()
		}
		f = m.check(stores, readers)
		return f.ok(), f.String() + "; " + strings.Join(f.examples, "; ")
	})
	t.Logf("upgrade: %s; %d writes unanswered or failed while nodes restarted", f, m.count(unknown, pop, 0))
	c.noQuarantine(t)

	// 4. The upgraded federation: the seeds have a leader that every node
	// knows, a metadata write commits and reaches every node, and every
	// node runs the new version.
	c.waitHealthy(30*time.Second, seeds, members)
	idx = metaIndexOf(t, c.mustCall("s1", "POST", "/v1/datasets/"+pop+"/grant", map[string]string{"reader": "s2"}, http.StatusOK))
	c.waitConverged(30*time.Second, idx)
	for _, name := range c.names {
		var st struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(c.mustCall(name, "GET", "/v1/status", nil, http.StatusOK).body, &st); err != nil || st.Version != newVersion {
			t.Errorf("%s: /v1/status says version %q (%v), want %q", name, st.Version, err, newVersion)
		}
	}
}

// binaryVersion is what `lienthong version --json` of the binary bin says.
func binaryVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	var v struct {
		Version string `json:"version"`
	}
	if err != nil || json.Unmarshal(out, &v) != nil || v.Version == "" {
		t.Fatalf("%s version --json: %q (%v)", bin, out, err)
	}
	return v.Version
}

// metrics is the node's /metrics.
func metrics(t *testing.T, c *fedCluster, name string) string {
	t.Helper()
	return string(c.mustCall(name, "GET", "/metrics", nil, http.StatusOK).body)
}

var buildInfoVersion = regexp.MustCompile(`(?m)^lienthong_build_info\{(?:.*,)?version="([^"]*)"`)

// buildVersion is the version label of the node's lienthong_build_info.
func buildVersion(t *testing.T, c *fedCluster, name string) string {
	t.Helper()
	m := buildInfoVersion.FindStringSubmatch(metrics(t, c, name))
	if m == nil {
		t.Fatalf("%s: no lienthong_build_info in /metrics", name)
	}
	return m[1]
}

// readerLag is the node's lienthong_replica_lag_ops of reader for dataset;
// ok is false if the node reports none (the reader has not pulled from it
// since it started).
func readerLag(t *testing.T, c *fedCluster, name, dataset, reader string) (lag int, ok bool) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^lienthong_replica_lag_ops\{dataset="` + regexp.QuoteMeta(dataset) + `",peer="` + regexp.QuoteMeta(reader) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(metrics(t, c, name))
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: lienthong_replica_lag_ops %q: %v", name, m[1], err)
	}
	return int(v), true
}

var held503 = regexp.MustCompile(`(?m)^lienthong_api_requests_total\{code="503",route="PUT /v1/datasets/\{dataset\}/entities/\{key\}"\} (\S+)$`)

// heldWrites is how many PUTs of an entity the node answered 503 since it
// started.
func heldWrites(t *testing.T, c *fedCluster, name string) int {
	t.Helper()
	m := held503.FindStringSubmatch(metrics(t, c, name))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return int(v)
}

var metaStatusLeaderRE = regexp.MustCompile(`leader: (\S+)`)

// metaStatusLeader is the leader `lienthong meta status` names at node at,
// as the runbook finds it.
func metaStatusLeader(t *testing.T, c *fedCluster, at string) string {
	t.Helper()
	n := c.node(at)
	var leader string
	c.waitFor(10*time.Second, "meta status at "+at+" to name a leader", func() (bool, string) {
		r := run(t, nil, "meta", "status", "--api", n.url(), "--token", n.admin)
		m := metaStatusLeaderRE.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || !slices.Contains(c.names, m[1]) {
			return false, r.stdout + r.stderr
		}
		leader = m[1]
		return true, ""
	})
	return leader
}
