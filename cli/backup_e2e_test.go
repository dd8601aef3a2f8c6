package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/node/backup"
)

// TestBackupRestoreOwner is the acceptance test of online backups (issue
// 12) with real processes: a seed, an owner and its reader. The owner is
// backed up with `lienthong backup create` while a writer keeps writing to
// it, then writes go on after the backup; the owner is killed (its disk
// "died"), the backup restored into a new directory with `lienthong backup
// restore`, and the restored node started in its place. It must get back
// from its reader the ops it wrote after the backup, continue its stream
// without reusing a sequence number (its head equals the reader's, and a new
// write is taken by the reader without a fork), hold every write the test
// saw acknowledged, and `lienthong verify` must report it equal to its
// reader. The subtests check what backup verify and restore refuse.
func TestBackupRestoreOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	const ds = "population.identity"
	c := newFedCluster(t, []string{"s1"}, []string{"own", "rd"})
	c.waitHealthy(60*time.Second, []string{"s1"}, []string{"own", "rd"})
	c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
	idx := metaIndexOf(t, c.mustCall("s1", "PUT", "/v1/datasets/"+ds, map[string]any{"name": ds, "entity_type": "citizen", "owner": "own",
		"readers": []string{"rd"}, "fields": []string{"full_name", "birth_date", "sex", "birth_province"}}, http.StatusCreated))
	c.waitConverged(30*time.Second, idx)

	// The writer PUTs a new key each time and records what was acknowledged.
	var mu sync.Mutex
	acked := map[string]string{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
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
			key, value := fmt.Sprintf("0790900%05d", i), fmt.Sprintf("w%d", i)
			r, err := c.call("own", "PUT", "/v1/datasets/"+ds+"/entities/"+key,
				map[string]any{"full_name": value, "birth_date": "1990-01-02", "sex": "female", "birth_province": "79"})
			if err == nil && (r.status == http.StatusOK || r.status == http.StatusCreated) {
				mu.Lock()
				acked[key] = value
				mu.Unlock()
			}
		}
	}()
	waitAcked := func(n int, why string) {
		t.Helper()
		c.waitFor(60*time.Second, fmt.Sprintf("%d acknowledged writes %s", n, why), func() (bool, string) { return count() >= n, fmt.Sprint(count()) })
	}
	waitAcked(100, "before the backup")

	own := c.node("own")
	keep := t.TempDir() // outlives the subtests
	bk := filepath.Join(keep, "own-backup")
	// Refused: a destination inside the node directory.
	if r := run(t, nil, "backup", "create", filepath.Join(own.dir, "bk"), "--dir", own.dir); r.code == 0 || !strings.Contains(r.stderr, "inside the node directory") {
		t.Fatalf("backup create into the node directory: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	before := count()
	var m backup.Manifest
	if err := json.Unmarshal([]byte(mustRun(t, nil, "backup", "create", bk, "--dir", own.dir, "--json")), &m); err != nil {
		t.Fatal(err)
	}
	during := count() - before
	var backedUp uint64
	for _, h := range m.Heads {
		if h.Dataset == ds && h.Origin == "own" {
			backedUp = h.Seq
		}
	}
	if m.Name != "own" || m.PeerID != own.peerID || backedUp < uint64(before) || m.MetaIndex < idx {
		t.Fatalf("manifest: name %s peer %s head %d (%d writes acknowledged before the backup) meta index %d (want >= %d)",
			m.Name, m.PeerID, backedUp, before, m.MetaIndex, idx)
	}
	waitAcked(count()+100, "after the backup")
	close(stop)
	wg.Wait()
	t.Logf("backup of own at seq %d (%d files; %d writes acknowledged while it ran); %d writes acknowledged in all", backedUp, len(m.Files), during, count())

	head := streamHead(t, c, "own", ds, "own")
	c.waitFor(30*time.Second, "the reader at the owner's head", func() (bool, string) {
		got := streamHead(t, c, "rd", ds, "own")
		return got == head, fmt.Sprintf("rd at %d of %d", got, head)
	})
	if head < backedUp+100 {
		t.Fatalf("owner's head %d: the backup (at %d) is not behind it", head, backedUp)
	}

	t.Run("VerifyCatchesCorruption", func(t *testing.T) {
		mustRun(t, nil, "backup", "verify", bk)
		bad := filepath.Join(t.TempDir(), "bad")
		// A copy to damage: the restored files and the manifest.
		mustRun(t, nil, "backup", "restore", bk, "--dir", bad)
		b, _ := json.Marshal(m)
		os.WriteFile(filepath.Join(bad, backup.ManifestFile), b, 0o600)
		mustRun(t, nil, "backup", "verify", bad)
		// The store's data: an SSTable, else the WAL the checkpoint copied.
		var victim string
		for _, f := range m.Files {
			if strings.HasPrefix(f.Path, "data/") && f.Size > 0 && (strings.HasSuffix(f.Path, ".sst") || victim == "" && strings.HasSuffix(f.Path, ".log")) {
				victim = f.Path
			}
		}
		if victim == "" {
			t.Fatalf("no SSTable or WAL in the backup: %+v", m.Files)
		}
		p := filepath.Join(bad, filepath.FromSlash(victim))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x20
		os.WriteFile(p, data, 0o600)
		r := run(t, nil, "backup", "verify", bad)
		if r.code == 0 || !strings.Contains(r.stderr, victim) {
			t.Fatalf("backup verify after a flipped byte in %s: exit %d %s%s", victim, r.code, r.stdout, r.stderr)
		}
		t.Logf("backup verify: %s", strings.TrimSpace(r.stderr))
		r = run(t, nil, "backup", "restore", bad, "--dir", filepath.Join(t.TempDir(), "r"))
		if r.code == 0 || !strings.Contains(r.stderr, victim) {
			t.Fatalf("backup restore of a damaged backup: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("RestoreRefuses", func(t *testing.T) {
		full := t.TempDir()
		os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
		if r := run(t, nil, "backup", "restore", bk, "--dir", full); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
			t.Fatalf("backup restore into a non-empty dir: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, nil, "backup", "restore", full, "--dir", filepath.Join(t.TempDir(), "r")); r.code == 0 || !strings.Contains(r.stderr, backup.ManifestFile) {
			t.Fatalf("backup restore of a directory without a manifest: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("RestoredOwnerRecovers", func(t *testing.T) {
		c.t = t
		c.kill("own")
		restored := filepath.Join(keep, "own-restored")
		mustRun(t, nil, "backup", "restore", bk, "--dir", restored)
		own.dir = restored // the old directory is gone for good
		c.start("own")
		c.waitFor(30*time.Second, "the restored owner at its reader's head", func() (bool, string) {
			got := streamHead(t, c, "own", ds, "own")
			return got == head, fmt.Sprintf("own at %d, rd at %d", got, head)
		})
		// A new write continues the stream: the reader takes it (a reused
		// sequence number would be a fork, quarantined at the reader).
		key := "079099999999"
		c.mustCall("own", "PUT", "/v1/datasets/"+ds+"/entities/"+key,
			map[string]any{"full_name": "after", "birth_date": "1990-01-02", "sex": "female", "birth_province": "79"}, http.StatusCreated)
		acked[key] = "after"
		c.waitFor(30*time.Second, "the reader at the restored owner's new head", func() (bool, string) {
			got := streamHead(t, c, "rd", ds, "own")
			return got == head+1, fmt.Sprintf("rd at %d, want %d", got, head+1)
		})
		expect := map[string]bool{}
		for k := range acked {
			expect[k] = true
		}
		c.waitVerified(30*time.Second, map[string][]string{ds: {"own", "rd"}}, map[string]map[string]bool{ds: expect}, nil)
		stores, err := exports(c, []string{ds}, map[string][]string{ds: {"own", "rd"}})
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for k, v := range acked {
			if got := stores["own"][ds][k]; got != v {
				if missing++; missing <= 5 {
					t.Errorf("restored owner: %s = %q, acknowledged %q", k, got, v)
				}
			}
		}
		if missing > 0 {
			t.Errorf("restored owner lacks or differs on %d of %d acknowledged writes", missing, len(acked))
		}
		c.noQuarantine(t)
		t.Logf("restored owner recovered %d ops from its reader: head %d, %d acknowledged writes all there", head-backedUp, head, len(acked))
	})

	// No backup, but the node's identity.key, lienthong.yaml and admin.token
	// were kept elsewhere: a new directory with only those, started with
	// --join, gets the metadata, holds its writes, gets its own stream back
	// from its reader and continues it.
	t.Run("RebuiltOwnerRecovers", func(t *testing.T) {
		c.t = t
		head := streamHead(t, c, "rd", ds, "own")
		c.kill("own")
		rebuilt := filepath.Join(keep, "own-rebuilt")
		os.MkdirAll(rebuilt, 0o700)
		for _, f := range []string{"lienthong.yaml", "identity.key", "admin.token"} {
			b, err := os.ReadFile(filepath.Join(own.dir, f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(rebuilt, f), b, 0o600)
		}
		own.dir = rebuilt
		c.start("own", "--join", c.node("s1").addr())
		// Written at once: held until the node has its stream back.
		key := "079099999998"
		c.waitFor(60*time.Second, "a write acknowledged by the rebuilt owner", func() (bool, string) {
			r, err := c.call("own", "PUT", "/v1/datasets/"+ds+"/entities/"+key,
				map[string]any{"full_name": "rebuilt", "birth_date": "1990-01-02", "sex": "female", "birth_province": "79"})
			if err != nil || r.status != http.StatusOK && r.status != http.StatusCreated {
				return false, fmt.Sprint(r, err)
			}
			return true, ""
		})
		acked[key] = "rebuilt"
		if got := streamHead(t, c, "own", ds, "own"); got != head+1 {
			t.Fatalf("rebuilt owner's head %d after one write, want %d (the reader had %d)", got, head+1, head)
		}
		c.waitFor(30*time.Second, "the reader at the rebuilt owner's new head", func() (bool, string) {
			got := streamHead(t, c, "rd", ds, "own")
			return got == head+1, fmt.Sprintf("rd at %d, want %d", got, head+1)
		})
		expect := map[string]bool{}
		for k := range acked {
			expect[k] = true
		}
		c.waitVerified(30*time.Second, map[string][]string{ds: {"own", "rd"}}, map[string]map[string]bool{ds: expect}, nil)
		c.noQuarantine(t)
	})
}
