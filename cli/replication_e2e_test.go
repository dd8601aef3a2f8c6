package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/storage"
)

// TestReplication is the acceptance test of the data plane (issue 4) with
// real node processes on loopback and --fast-timers: one seed and four
// members, three datasets with different owners and read lists, a write load
// on three owners, convergence checked with `lienthong verify --json` on
// every authorised replica, the stores of non-readers opened directly, a
// reader killed with SIGKILL while the owner keeps writing, an ownership
// transfer while the old owner is down, and the change feed of a reader.
// The subtests share the cluster and run in order.
func TestReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five node processes")
	}
	begin := time.Now()
	members := []string{"hanoi", "hcm", "moh", "mps"} // sorted, as the control plane lists non-voters
	c := newFedCluster(t, []string{"s1"}, []string{"hcm", "hanoi", "moh", "mps"})
	c.waitHealthy(60*time.Second, []string{"s1"}, members)
	t.Logf("federation of 5 healthy %s after init began", time.Since(begin).Round(time.Millisecond))

	// readers[dataset] lists every node that may read it (owner first);
	// expect[dataset] is the set of keys every such replica must hold.
	readers := map[string][]string{
		"population.identity": {"mps", "moh", "hcm"},
		"health.insurance":    {"moh", "mps"},
		"land.79":             {"hcm", "hanoi"},
	}
	expect := map[string]map[string]bool{}
	genDir := t.TempDir()

	ok := t.Run("Setup", func(t *testing.T) {
		c.t = t
		c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
		c.mustCall("s1", "PUT", "/v1/schemas/land_parcel", schemaFile(t, "land_parcel"), http.StatusCreated)
		var idx uint64
		for _, ds := range []map[string]any{
			{"name": "population.identity", "entity_type": "citizen", "owner": "mps", "readers": []string{"moh", "hcm"},
				"fields": []string{"full_name", "birth_date", "sex", "birth_province", "residence_province", "ethnicity", "phones"}},
			{"name": "health.insurance", "entity_type": "citizen", "owner": "moh", "readers": []string{"mps"},
				"fields": []string{"insurance_number", "insurance_expiry", "clinic_visits"}},
			{"name": "land.79", "entity_type": "land_parcel", "key_prefix": "79-", "owner": "hcm", "readers": []string{"hanoi"},
				"fields": []string{"commune_code", "area_m2", "land_use", "owner_ids", "certificate_no", "geometry", "registered_at"}},
		} {
			idx = metaIndexOf(t, c.mustCall("s1", "PUT", "/v1/datasets/"+ds["name"].(string), ds, http.StatusCreated))
		}
		d := c.waitConverged(20*time.Second, idx)
		t.Logf("schemas and datasets on every node %s after the last write (meta_index %d)", d.Round(time.Millisecond), idx)
	})
	if !ok {
		t.FailNow()
	}

	ok = t.Run("WriteLoadConverges", func(t *testing.T) {
		c.t = t
		citizens := genFile(t, genDir, "citizens.jsonl", "citizen", "--count", "2000", "--seed", "3")
		parcels := genFile(t, genDir, "parcels.jsonl", "land_parcel", "--count", "500", "--provinces", "79")
		ck, pk := keysOf(t, citizens), keysOf(t, parcels)
		expect["population.identity"], expect["health.insurance"], expect["land.79"] = ck, maps.Clone(ck), pk

		imports := []struct{ at, dataset, file string }{
			{"mps", "population.identity", citizens},
			{"moh", "health.insurance", citizens},
			{"hcm", "land.79", parcels},
		}
		var wg sync.WaitGroup
		errs := make([]string, len(imports))
		took := make([]time.Duration, len(imports))
		t0 := time.Now()
		for i, im := range imports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := c.node(im.at)
				s := time.Now()
				r := run(t, nil, "import", im.dataset, im.file, "--drop-other-fields", "--api", n.url(), "--token", n.write)
				took[i] = time.Since(s)
				if r.code != 0 {
					errs[i] = fmt.Sprintf("import %s at %s: exit %d\n%s%s", im.dataset, im.at, r.code, r.stdout, r.stderr)
				}
			}()
		}
		wg.Wait()
		importsDone := time.Now()
		for _, e := range errs {
			if e != "" {
				t.Fatal(e)
			}
		}
		for i, im := range imports {
			t.Logf("import of %d records into %s at %s: %s", len(expect[im.dataset]), im.dataset, im.at, took[i].Round(time.Millisecond))
		}
		t.Logf("the three concurrent imports took %s", importsDone.Sub(t0).Round(time.Millisecond))

		owners := map[string]string{"population.identity": "mps", "health.insurance": "moh", "land.79": "hcm"}
		dh := c.waitFor(60*time.Second, "every reader at its owner's stream head", func() (bool, string) {
			for ds, o := range owners {
				want := streamHead(t, c, o, ds, o)
				for _, name := range readers[ds] {
					if got := streamHead(t, c, name, ds, o); got != want {
						return false, fmt.Sprintf("%s: %s/%s at %d of %d", name, ds, o, got, want)
					}
				}
			}
			return true, ""
		})
		t.Logf("every reader's /v1/status shows the owner's stream heads %s after the imports ended", dh.Round(time.Millisecond))
		d := c.waitVerified(60*time.Second, readers, expect, nil) + dh
		t.Logf("CONVERGENCE: every authorised replica of the 3 datasets reports equal digests and the imported counts %s after the imports ended", d.Round(time.Millisecond))
		c.noQuarantine(t)
	})
	if !ok {
		t.FailNow()
	}

	t.Run("NonReadersHoldNothing", func(t *testing.T) {
		c.t = t
		// The hcm stream of land.79 as its owner reports it.
		landSeq := streamHead(t, c, "hcm", "land.79", "hcm")
		for _, name := range []string{"hanoi", "s1"} {
			n := c.node(name)
			if err := c.stop(name, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			st, err := storage.Open(storage.Options{Dir: filepath.Join(n.dir, node.DataDir)})
			if err != nil {
				c.restart(name)
				t.Fatalf("open the store of %s: %v", name, err)
			}
			func() {
				defer st.Close()
				for _, ds := range []string{"population.identity", "health.insurance"} {
					h, err := st.Heads(ds)
					if err != nil {
						t.Fatal(err)
					}
					if len(h) != 0 {
						t.Errorf("%s may not read %s, yet its store holds the streams %v", name, ds, h)
					}
				}
				es, err := st.Entities("citizen", "", "", 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) != 0 {
					t.Errorf("%s may read no citizen dataset, yet its store holds citizen %s in %d datasets", name, es[0].Key, len(es[0].States))
				}
				land, err := st.Heads("land.79")
				if err != nil {
					t.Fatal(err)
				}
				parcels := countEntities(t, st, "land_parcel", "")
				if name == "hanoi" {
					h, ok := land[storage.Stream{Dataset: "land.79", Origin: "hcm"}]
					if !ok || h.Seq != landSeq {
						t.Errorf("hanoi reads land.79 but its store has the streams %v; want hcm at seq %d", land, landSeq)
					}
					if parcels != len(expect["land.79"]) {
						t.Errorf("hanoi's store holds %d land parcels; want %d", parcels, len(expect["land.79"]))
					}
				} else {
					all, err := st.Heads("")
					if err != nil {
						t.Fatal(err)
					}
					if len(all) != 0 || parcels != 0 {
						t.Errorf("s1 reads nothing, yet its store holds the streams %v and %d land parcels", all, parcels)
					}
				}
				t.Logf("%s's store: population.identity and health.insurance streams none, citizens none, land.79 streams %v, land parcels %d",
					name, streamsOf(land), parcels)
			}()
			c.restart(name)
		}
		c.waitHealthy(30*time.Second, []string{"s1"}, members)
	})

	t.Run("SIGKILLCatchUp", func(t *testing.T) {
		c.t = t
		more := genFile(t, genDir, "citizens2.jsonl", "citizen", "--count", "1000", "--seed", "4")
		mk := keysOf(t, more)
		added := 0
		for k := range mk {
			if !expect["population.identity"][k] {
				added++
			}
			expect["population.identity"][k] = true
		}
		mps := c.node("mps")
		done := make(chan result, 1)
		go func() {
			done <- run(t, nil, "import", "population.identity", more, "--drop-other-fields", "--batch", "50",
				"--api", mps.url(), "--token", mps.write)
		}()
		// Kill moh once mps has written part of the new records.
		before := streamHead(t, c, "mps", "population.identity", "mps")
		c.waitFor(20*time.Second, "mps to start writing the new records", func() (bool, string) {
			s := streamHead(t, c, "mps", "population.identity", "mps")
			return s > before, fmt.Sprint(s)
		})
		c.kill("moh")
		killedAt := streamHead(t, c, "mps", "population.identity", "mps")
		r := <-done
		if r.code != 0 {
			t.Fatalf("second import at mps: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		final := streamHead(t, c, "mps", "population.identity", "mps")
		t.Logf("moh killed (SIGKILL) while mps was importing (mps stream at %d just after the kill, %d before the import); mps went on to %d (%d new citizens, %d keys in total)",
			killedAt, before, final, added, len(expect["population.identity"]))
		if killedAt >= final {
			t.Logf("note: the import finished before the kill landed; moh still has to catch up with what it missed")
		}
		time.Sleep(500 * time.Millisecond) // stay down across a few anti-entropy rounds
		// What moh held when it died, read from its store.
		st, err := storage.Open(storage.Options{Dir: filepath.Join(c.node("moh").dir, node.DataDir)})
		if err != nil {
			t.Fatalf("open moh's store after SIGKILL: %v", err)
		}
		h, err := st.Heads("population.identity")
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		had := h[storage.Stream{Dataset: "population.identity", Origin: "mps"}].Seq
		t.Logf("moh's store after the SIGKILL holds population.identity/mps up to seq %d of %d: %d ops to catch up", had, final, final-had)
		if had >= final {
			t.Errorf("moh missed nothing while down (%d of %d); the catch-up below proves nothing", had, final)
		}
		restarted := time.Now()
		c.restart("moh")
		dh := c.waitFor(60*time.Second, "moh to reach mps's stream head", func() (bool, string) {
			got := streamHead(t, c, "moh", "population.identity", "mps")
			return got == final, fmt.Sprintf("%d of %d", got, final)
		})
		t.Logf("moh's /v1/status shows population.identity/mps at %d %s after its restart answered", final, dh.Round(time.Millisecond))
		d := c.waitVerified(60*time.Second, map[string][]string{"population.identity": {"moh", "mps"}}, expect, []string{"moh"})
		t.Logf("CATCH-UP: %d missed ops; moh's stream head equal to mps's %s after its restart answered, and verify reports population.identity "+
			"equal with %d entities %s after that (%s since the restart began)",
			final-had, dh.Round(time.Millisecond), len(expect["population.identity"]), d.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
		// And everything else too, hcm included.
		c.waitVerified(30*time.Second, readers, expect, nil)
		c.noQuarantine(t)
	})

	// The old owner mps is cut off across the transfer: killed, restarted
	// with every link blocked (the gater's test hook), so it keeps writing at
	// epoch 1 while moh writes at epoch 2; then it rejoins.
	t.Run("TransferWhileOldOwnerCutOff", func(t *testing.T) {
		c.t = t
		keys := slices.Sorted(maps.Keys(expect["population.identity"]))
		k := keys[:10]
		patch := func(at, key string, fields map[string]any) apiResp {
			t.Helper()
			r, err := c.call(at, "PATCH", "/v1/datasets/population.identity/entities/"+key, fields)
			if err != nil {
				t.Fatalf("PATCH %s at %s: %v", key, at, err)
			}
			return r
		}
		mustPatch := func(at, key string, fields map[string]any) {
			t.Helper()
			if r := patch(at, key, fields); r.status != http.StatusOK {
				t.Fatalf("PATCH %s %v at %s: %s", key, fields, at, r)
			}
		}
		// 1. mps, connected, writes residence_province of k[0..4]; then SIGKILL.
		for _, key := range k[:5] {
			mustPatch("mps", key, map[string]any{"residence_province": "01"})
		}
		c.kill("mps")
		// 2. mps comes back cut off from everyone and writes, unseen.
		var others []string
		for _, name := range c.names {
			if name != "mps" {
				others = append(others, c.node(name).peerID)
			}
		}
		c.start("mps", "--block-peers", strings.Join(others, ","))
		mustPatch("mps", k[5], map[string]any{"residence_province": "02"})
		mustPatch("mps", k[1], map[string]any{"ethnicity": "Mường"})
		// 3. The transfer, through s1, while mps cannot hear of it.
		r := c.mustCall("s1", "POST", "/v1/datasets/population.identity/transfer", map[string]string{"to": "moh"}, http.StatusOK)
		idx := metaIndexOf(t, r)
		c.waitFor(20*time.Second, fmt.Sprintf("every node but mps at meta_index >= %d", idx), func() (bool, string) {
			var seen []string
			ok := true
			for _, name := range c.names {
				if name == "mps" {
					continue
				}
				st, err := c.meta(name, false)
				if err != nil {
					return false, err.Error()
				}
				seen = append(seen, fmt.Sprintf("%s:%d", name, st.MetaIndex))
				ok = ok && st.MetaIndex >= idx
			}
			return ok, strings.Join(seen, " ")
		})
		var ds struct {
			Owner      string   `json:"owner"`
			OwnerEpoch uint64   `json:"owner_epoch"`
			Readers    []string `json:"readers"`
		}
		json.Unmarshal(c.mustCall("moh", "GET", "/v1/datasets/population.identity", nil, http.StatusOK).body, &ds)
		if ds.Owner != "moh" || ds.OwnerEpoch != 2 || !slices.Contains(ds.Readers, "mps") || slices.Contains(ds.Readers, "moh") {
			t.Fatalf("population.identity after the transfer, as moh sees it: %+v", ds)
		}
		// 4. The new owner writes at epoch 2: k[0]'s residence_province (which
		// mps wrote at epoch 1 before its kill) and ethnicity of k[3..7].
		mustPatch("moh", k[0], map[string]any{"residence_province": "48"})
		for _, key := range k[3:8] {
			mustPatch("moh", key, map[string]any{"ethnicity": "Tày"})
		}
		// 5. mps, still cut off and unaware, writes later (a greater HLC) at
		// epoch 1: k[3]'s ethnicity (moh's epoch must win) and k[8]'s (nobody
		// else wrote it: it must apply).
		staleOwner := true
		if r := patch("mps", k[3], map[string]any{"ethnicity": "Khmer"}); r.status != http.StatusOK {
			staleOwner = false
			t.Logf("mps, cut off, refused a write after the transfer (it learnt of it somehow): %s", r)
		} else {
			mustPatch("mps", k[8], map[string]any{"ethnicity": "Khmer"})
		}
		// The cut-off writes stayed on mps: nobody else has them yet.
		mine := streamHead(t, c, "mps", "population.identity", "mps")
		for _, name := range []string{"moh", "hcm"} {
			if got := streamHead(t, c, name, "population.identity", "mps"); got >= mine {
				t.Errorf("mps was cut off, yet %s holds its stream up to %d of %d: the block did not hold", name, got, mine)
			}
		}
		// 6. mps rejoins.
		c.kill("mps")
		readers["population.identity"] = []string{"moh", "hcm", "mps"}
		restarted := time.Now()
		c.restart("mps")
		c.waitConverged(20*time.Second, idx)
		d := c.waitVerified(60*time.Second, map[string][]string{"population.identity": readers["population.identity"]}, expect, nil)
		t.Logf("after the transfer: moh, hcm and mps report population.identity equal %s after mps rejoined (%s since)",
			d.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))

		want := map[string]map[string]string{
			k[0]: {"residence_province": "48"},                       // epoch 2 beats epoch 1
			k[1]: {"residence_province": "01", "ethnicity": "Mường"}, // mps's connected and cut-off writes
			k[2]: {"residence_province": "01"},
			k[3]: {"residence_province": "01", "ethnicity": "Tày"}, // epoch 2 beats a later epoch-1 write
			k[4]: {"residence_province": "01", "ethnicity": "Tày"},
			k[5]: {"residence_province": "02", "ethnicity": "Tày"},
			k[6]: {"ethnicity": "Tày"},
			k[7]: {"ethnicity": "Tày"},
		}
		if staleOwner {
			want[k[8]] = map[string]string{"ethnicity": "Khmer"} // the old owner's epoch-1 op still applies
		}
		for _, name := range readers["population.identity"] {
			for _, key := range k[:9] {
				w := want[key]
				var ent struct {
					Fields map[string]json.RawMessage `json:"fields"`
				}
				json.Unmarshal(c.mustCall(name, "GET", "/v1/entities/citizen/"+key, nil, http.StatusOK).body, &ent)
				for f, v := range w {
					var got string
					json.Unmarshal(ent.Fields[f], &got)
					if got != v {
						t.Errorf("%s: citizen %s %s = %q; want %q", name, key, f, got, v)
					}
				}
			}
		}
		// The old owner may no longer write.
		r = patch("mps", k[9], map[string]any{"ethnicity": "Kinh"})
		code, msg := r.errorBody()
		if r.status != http.StatusForbidden || code != "not_owner" || !strings.Contains(msg, "moh") {
			t.Errorf("PATCH at the old owner mps after the transfer: %s; want 403 not_owner naming moh", r)
		} else {
			t.Logf("PATCH at mps after the transfer: %d %s: %s", r.status, code, msg)
		}
		c.waitVerified(30*time.Second, readers, expect, nil)
		c.noQuarantine(t)
	})

	t.Run("ChangeFeedHasOrigins", func(t *testing.T) {
		c.t = t
		origins := map[string]map[string]int{} // dataset -> origin -> changes
		var since uint64
		for {
			r := c.mustCall("hcm", "GET", fmt.Sprintf("/v1/changes?since=%d&limit=1000", since), nil, http.StatusOK)
			var page struct {
				Changes []struct {
					Cursor  uint64 `json:"cursor"`
					Dataset string `json:"dataset"`
					Origin  string `json:"origin"`
				} `json:"changes"`
				Next uint64 `json:"next"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatalf("GET /v1/changes at hcm: %v: %.300s", err, r.body)
			}
			for _, ch := range page.Changes {
				if origins[ch.Dataset] == nil {
					origins[ch.Dataset] = map[string]int{}
				}
				origins[ch.Dataset][ch.Origin]++
			}
			if len(page.Changes) == 0 || page.Next == since {
				break
			}
			since = page.Next
		}
		t.Logf("hcm's change feed, by dataset and origin: %v", origins)
		if origins["population.identity"]["mps"] < len(expect["population.identity"]) {
			t.Errorf("hcm's change feed has %d population.identity changes from origin mps; want at least %d (every replicated record)",
				origins["population.identity"]["mps"], len(expect["population.identity"]))
		}
		if origins["population.identity"]["moh"] < 6 {
			t.Errorf("hcm's change feed has %d population.identity changes from the new owner moh; want at least 6", origins["population.identity"]["moh"])
		}
		if origins["land.79"]["hcm"] != len(expect["land.79"]) {
			t.Errorf("hcm's change feed has %d land.79 changes of its own; want %d", origins["land.79"]["hcm"], len(expect["land.79"]))
		}
		for _, name := range []string{"s1", "hanoi"} {
			r := c.mustCall(name, "GET", "/v1/changes?limit=10000", nil, http.StatusOK)
			if strings.Contains(string(r.body), `"population.identity"`) || strings.Contains(string(r.body), `"health.insurance"`) {
				t.Errorf("%s reads no citizen dataset, yet its change feed has citizen changes: %.300s", name, r.body)
			}
		}
		if len(origins["health.insurance"]) != 0 {
			t.Errorf("hcm may not read health.insurance, yet its change feed has changes of it: %v", origins["health.insurance"])
		}
	})

	// Honest peers trip no receive check: no node logged a rejected batch,
	// a fork alarm or a failure to serve a stream during the whole run.
	t.Run("NoRejectionsLogged", func(t *testing.T) {
		c.t = t
		for _, name := range c.names {
			b, err := os.ReadFile(c.node(name).log)
			if err != nil {
				t.Fatal(err)
			}
			var bad []string
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "batch rejected") || strings.Contains(line, "ALARM") || strings.Contains(line, "serve stream") {
					bad = append(bad, line)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s logged %d rejections or alarms between honest peers; first: %s", name, len(bad), bad[0])
			}
		}
	})
}

// waitVerified polls until, for every dataset and every node in
// only (nil: all its readers) that may read it, `lienthong verify --json
// --dataset D` run against that node with its read token reports every other
// reader of D, with no differing bucket and no error, and the expected
// number of entities. It returns the time it took.
func (c *fedCluster) waitVerified(d time.Duration, readers map[string][]string, expect map[string]map[string]bool, only []string) time.Duration {
	c.t.Helper()
	datasets := slices.Sorted(maps.Keys(readers))
	return c.waitFor(d, fmt.Sprintf("verify: equal digests and counts on every reader of %v", datasets), func() (bool, string) {
		for _, ds := range datasets {
			for _, name := range readers[ds] {
				if only != nil && !slices.Contains(only, name) {
					continue
				}
				n := c.node(name)
				r := run(c.t, nil, "verify", "--json", "--dataset", ds, "--api", n.url(), "--token", n.read)
				var items []node.VerifyResult
				if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
					time.Sleep(100 * time.Millisecond)
					return false, fmt.Sprintf("verify --dataset %s at %s: exit %d %s %s", ds, name, r.code, r.stdout, r.stderr)
				}
				seen := map[string]bool{}
				for _, it := range items {
					if it.Error != "" || len(it.Differ) > 0 || it.Entities != len(expect[ds]) {
						time.Sleep(100 * time.Millisecond)
						return false, fmt.Sprintf("verify --dataset %s at %s (exit %d): peer %s: %d entities (want %d), %d buckets differ, error %q",
							ds, name, r.code, it.Peer, it.Entities, len(expect[ds]), len(it.Differ), it.Error)
					}
					seen[it.Peer] = true
				}
				for _, p := range readers[ds] {
					if p != name && !seen[p] {
						time.Sleep(100 * time.Millisecond)
						return false, fmt.Sprintf("verify --dataset %s at %s (exit %d) did not compare with %s: %s", ds, name, r.code, p, r.stdout)
					}
				}
				if r.code != 0 {
					return false, fmt.Sprintf("verify --dataset %s at %s: exit %d with no difference in %s", ds, name, r.code, r.stdout)
				}
			}
		}
		return true, ""
	})
}

// stop stops the node with SIGTERM and waits for it to exit (SIGKILL after d).
func (c *fedCluster) stop(name string, d time.Duration) error {
	n := c.nodes[name]
	if err := n.Stop(d); err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(n.log, 30))
	}
	return nil
}

// noQuarantine fails the test if a running node quarantined a stream or
// raised an alarm: honest peers must not trip the receive checks.
func (c *fedCluster) noQuarantine(t *testing.T) {
	t.Helper()
	for _, name := range c.running() {
		var st struct {
			Quarantined []json.RawMessage `json:"quarantined"`
			Alarms      []string          `json:"alarms"`
		}
		r := c.mustCall(name, "GET", "/v1/status", nil, http.StatusOK)
		json.Unmarshal(r.body, &st)
		if len(st.Quarantined) > 0 || len(st.Alarms) > 0 {
			t.Errorf("%s: quarantined %s, alarms %v", name, st.Quarantined, st.Alarms)
		}
	}
}

// streamHead returns the seq of stream (dataset, origin) in node name's status.
func streamHead(t *testing.T, c *fedCluster, name, dataset, origin string) uint64 {
	t.Helper()
	seq, _ := streamStatus(t, c, name, dataset, origin)
	return seq
}

// streamStatus returns the seq and the floor of stream (dataset, origin) in
// node name's status.
func streamStatus(t *testing.T, c *fedCluster, name, dataset, origin string) (seq, floor uint64) {
	t.Helper()
	var st struct {
		Datasets []struct {
			Name    string `json:"name"`
			Streams []struct {
				Origin string `json:"origin"`
				Seq    uint64 `json:"seq"`
				Floor  uint64 `json:"floor"`
			} `json:"streams"`
		} `json:"datasets"`
	}
	r := c.mustCall(name, "GET", "/v1/status", nil, http.StatusOK)
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("GET /v1/status at %s: %v", name, err)
	}
	for _, d := range st.Datasets {
		for _, s := range d.Streams {
			if d.Name == dataset && s.Origin == origin {
				return s.Seq, s.Floor
			}
		}
	}
	return 0, 0
}

// genFile writes `lienthong gen TYPE args...` to dir/name.
func genFile(t *testing.T, dir, name, typ string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustRun(t, nil, append([]string{"gen", typ, "--out", path}, args...)...)
	return path
}

// keysOf returns the set of keys of a JSONL file.
func keysOf(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		keys[rec.Key] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func countEntities(t *testing.T, st *storage.Store, typ, prefix string) int {
	t.Helper()
	n, after := 0, ""
	for {
		page, err := st.Entities(typ, prefix, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return n
		}
		n += len(page)
		after = page[len(page)-1].Key
	}
}

func streamsOf(h map[storage.Stream]storage.Head) string {
	var parts []string
	for s, hd := range h {
		parts = append(parts, fmt.Sprintf("%s:%d", s.Origin, hd.Seq))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
