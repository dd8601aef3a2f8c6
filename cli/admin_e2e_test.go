package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAdminCommands runs, through the binary, the admin commands of the
// control plane that the other end-to-end tests drive through the API: the
// dataset, member, schema get and meta commands, among them meta snapshot
// save and restore (issue 12: they were documented and unreachable).
func TestAdminCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	c := newFedCluster(t, []string{"s1"}, []string{"m1"})
	c.waitHealthy(30*time.Second, []string{"s1"}, []string{"m1"})
	s1 := c.node("s1")
	at := []string{"--api", s1.url(), "--token", s1.admin}
	cli := func(args ...string) string { t.Helper(); return mustRun(t, nil, append(args, at...)...) }
	// code runs args and checks the exit code.
	code := func(want int, args ...string) result {
		t.Helper()
		r := run(t, nil, append(args, at...)...)
		if r.code != want {
			t.Fatalf("lienthong %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}

	cli("schema", "put", "../docs/examples/schemas/citizen.json")
	if out := cli("schema", "get", "citizen"); !strings.Contains(out, "full_name") {
		t.Errorf("schema get citizen: %q, want the type's fields", out)
	}
	cli("dataset", "create", "--name", "population.identity", "--type", "citizen", "--fields", "full_name,birth_date,sex,birth_province", "--owner", "s1")
	dataset := func() (d struct {
		Owner   string   `json:"owner"`
		Readers []string `json:"readers"`
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(cli("dataset", "get", "population.identity", "--json")), &d); err != nil {
			t.Fatalf("dataset get --json: %v", err)
		}
		return d
	}
	if d := dataset(); d.Owner != "s1" {
		t.Fatalf("dataset get: %+v, want owner s1", d)
	}
	cli("dataset", "grant", "population.identity", "m1")
	if d := dataset(); !slices.Contains(d.Readers, "m1") {
		t.Errorf("after dataset grant m1: %+v", d)
	}
	cli("dataset", "revoke", "population.identity", "m1")
	if d := dataset(); slices.Contains(d.Readers, "m1") {
		t.Errorf("after dataset revoke m1: %+v", d)
	}
	cli("dataset", "transfer", "population.identity", "--to", "m1")
	if d := dataset(); d.Owner != "m1" {
		t.Errorf("after dataset transfer --to m1: %+v", d)
	}
	cli("dataset", "transfer", "population.identity", "--to", "s1")
	code(3, "dataset", "transfer", "population.identity", "--to", "nobody")

	// members returns the NAME column of member list (a substring test
	// would find "m1" in a peer ID).
	members := func() (names []string, out string) {
		t.Helper()
		out = cli("member", "list")
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			names = append(names, strings.Fields(l)[0])
		}
		return names, out
	}
	if names, out := members(); !slices.Contains(names, "m1") || !slices.Contains(names, "s1") {
		t.Errorf("member list: %q, want s1 and m1", out)
	}
	if out := cli("meta", "status"); !strings.Contains(out, "leader: s1") {
		t.Errorf("meta status: %q, want s1 the leader", out)
	}

	// A metadata backup, a change after it, and the restore that undoes it.
	file := filepath.Join(t.TempDir(), "meta.json")
	cli("meta", "snapshot", "save", file)
	b, err := os.ReadFile(file)
	if err != nil || !json.Valid(b) || !strings.Contains(string(b), "population.identity") {
		t.Fatalf("meta snapshot save wrote %q (%v); want JSON naming the dataset", b, err)
	}
	cli("schema", "put", "../docs/examples/schemas/land_parcel.json")
	cli("schema", "get", "land_parcel")
	cli("meta", "snapshot", "restore", file)
	c.waitFor(10*time.Second, "the restore to drop land_parcel", func() (bool, string) {
		r := run(t, nil, append([]string{"schema", "get", "land_parcel"}, at...)...)
		return r.code == 3, r.stdout + r.stderr
	})
	if out := cli("schema", "list"); !strings.Contains(out, "citizen") {
		t.Errorf("schema list after the restore: %q, want citizen", out)
	}
	code(2, "meta", "snapshot", "restore")

	// The rotation, as meta status names the keys (never shows them):
	// add a second key, send with it, drop the first.
	keyIDs := func() []string {
		t.Helper()
		var st struct {
			IDs []string `json:"gossip_key_ids"`
		}
		if err := json.Unmarshal([]byte(cli("meta", "status", "--json")), &st); err != nil {
			t.Fatalf("meta status --json: %v", err)
		}
		return st.IDs
	}
	first := keyIDs()
	if len(first) != 1 || !strings.Contains(cli("meta", "status"), "gossip keys: "+first[0]+" (sending), 1 in all") {
		t.Fatalf("before the rotation: gossip key IDs %q, want one, and meta status naming it", first)
	}
	for _, step := range []struct {
		action string
		want   func(ids []string) bool
	}{
		{"add", func(ids []string) bool { return len(ids) == 2 && ids[0] == first[0] && ids[1] != first[0] }},
		{"use", func(ids []string) bool { return len(ids) == 2 && ids[0] != first[0] && ids[1] == first[0] }},
		{"prune", func(ids []string) bool { return len(ids) == 1 && ids[0] != first[0] }},
	} {
		cli("meta", "gossip-key", step.action)
		c.waitFor(10*time.Second, "gossip-key "+step.action+" to apply", func() (bool, string) {
			ids := keyIDs()
			return step.want(ids), strings.Join(ids, ",")
		})
	}
	code(2, "meta", "gossip-key", "rotate")

	// member add admits a node by its peer ID (fed.Launch admits through
	// the API): one initialised and never started will do.
	var m2 struct {
		PeerID string `json:"peer_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "init", "--dir", filepath.Join(t.TempDir(), "m2"), "--name", "m2", "--json")), &m2); err != nil {
		t.Fatal(err)
	}
	cli("member", "add", "--name", "m2", "--role", "member", "--peer-id", m2.PeerID)
	if names, out := members(); !slices.Contains(names, "m2") {
		t.Errorf("member list after member add m2: %q", out)
	}
	cli("member", "remove", "m2")

	cli("member", "remove", "m1")
	c.waitFor(10*time.Second, "m1 to leave the member list", func() (bool, string) {
		names, out := members()
		return !slices.Contains(names, "m1"), out
	})
}
