package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestIfMatchFlag: get shows the entity's ETag, a write with --if-match of a
// stale one exits 3 naming the current ETag and writes nothing, and one with
// the current ETag (quoted or not) writes and shows the new one.
func TestIfMatchFlag(t *testing.T) {
	in := startImportNode(t)
	const key = "079090000001"
	body := `{"full_name":"Trần Thị Bình","birth_date":"1990-02-03","sex":"female","birth_province":"79"}`
	etag := func() string {
		t.Helper()
		code, out, _ := in.run(t, nil, "get", "citizen", key, "--json")
		var ent struct{ ETag string }
		if code != 0 || json.Unmarshal([]byte(out), &ent) != nil || !strings.HasPrefix(ent.ETag, `"`) {
			t.Fatalf("get --json: exit %d, %s", code, out)
		}
		return ent.ETag
	}
	var put struct{ ETag string }
	code, out, _ := in.run(t, nil, "put", "population.identity", key, body, "--json")
	if code != 0 || json.Unmarshal([]byte(out), &put) != nil || put.ETag != etag() {
		t.Fatalf("put --json: exit %d, %s; get says ETag %s", code, out, etag())
	}
	first := put.ETag
	if code, out, _ := in.run(t, nil, "patch", "population.identity", key, `{"sex":"male"}`, "--if-match", strings.Trim(first, `"`)); code != 0 || !strings.Contains(out, "etag "+etag()) {
		t.Fatalf("patch --if-match with the current ETag unquoted: exit %d, %s", code, out)
	}
	now := etag()
	code, _, stderr := in.run(t, nil, "patch", "population.identity", key, `{"sex":"female"}`, "--if-match", first)
	if code != ExitRejected || !strings.Contains(stderr, "precondition_failed") || !strings.Contains(stderr, now) {
		t.Fatalf("patch --if-match with a stale ETag: exit %d, %s; want 3 naming %s", code, stderr, now)
	}
	if code, _, stderr := in.run(t, nil, "delete", "population.identity", key, "--if-match", first); code != ExitRejected || !strings.Contains(stderr, "412") {
		t.Fatalf("delete --if-match with a stale ETag: exit %d, %s", code, stderr)
	}
	if etag() != now {
		t.Fatal("a refused write changed the entity")
	}
	if code, out, _ := in.run(t, nil, "get", "citizen", key); code != 0 || !strings.Contains(out, "etag "+now) {
		t.Fatalf("get: exit %d, %s; want its ETag %s", code, out, now)
	}
	if code, _, stderr := in.run(t, nil, "delete", "population.identity", key, "--if-match", now); code != 0 {
		t.Fatalf("delete --if-match with the current ETag: exit %d, %s", code, stderr)
	}
}
