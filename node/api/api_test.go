package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/meta"
)

// testNode is a real node (Pebble on disk) behind an httptest server, with
// the sample dictionary; population.identity and health.insurance are owned
// by the node, land.79 by another member, "moh".
type testNode struct {
	t      testing.TB
	n      *node.Node
	srv    *httptest.Server
	tokens *node.InitResult
}

func newTestNode(t testing.TB) *testNode {
	t.Helper()
	return newTestNodeWith(t, node.Options{})
}

// newTestNodeWith is newTestNode with opts, e.g. a file system that fails.
func newTestNodeWith(t testing.TB, opts node.Options) *testNode {
	t.Helper()
	dir := t.TempDir()
	cfg := node.DefaultConfig("mps")
	cfg.API.MaxBodyBytes = 64 << 10
	res, err := node.Init(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = node.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: "moh", Role: "member", PeerID: "x"}}); err != nil {
		t.Fatal(err)
	}
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutType, Type: ty}); err != nil {
			t.Fatal(err)
		}
	}
	dss, _ := examples.Datasets()
	for _, d := range dss {
		d.Owner, d.Readers = "mps", nil
		if d.Name == "land.79" {
			d.Owner = "moh"
		}
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutDataset, Dataset: d}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() { srv.Close(); n.Close() })
	return &testNode{t: t, n: n, srv: srv, tokens: res}
}

// do sends a request with the admin token unless token is given.
func (tn *testNode) do(method, path, body string, token ...string) (int, []byte) {
	tn.t.Helper()
	req, _ := http.NewRequest(method, tn.srv.URL+path, strings.NewReader(body))
	tok := tn.tokens.AdminToken
	if len(token) > 0 {
		tok = token[0]
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// snapshot is what a rejected request must leave unchanged.
func (tn *testNode) snapshot() string {
	tn.t.Helper()
	st := tn.n.Status()
	_, ent := tn.do("GET", "/v1/entities/citizen/079090000001", "")
	return fmt.Sprintf("changes=%d meta=%d entity=%s", st.Changes, st.MetaIndex, ent)
}

const goodCitizen = `{"full_name":"Trần Thị Bình","birth_date":"1990-02-03","sex":"female","birth_province":"79"}`

func TestRejectedRequestsChangeNothing(t *testing.T) {
	tn := newTestNode(t)
	if code, b := tn.do("PUT", "/v1/datasets/population.identity/entities/079090000001", goodCitizen); code != http.StatusCreated {
		t.Fatalf("good write: %d %s", code, b)
	}
	big := `{"full_name":"` + strings.Repeat("a", 70<<10) + `"}`
	tests := []struct {
		name, method, path, body, token string
		status                          int
		code, field, rule, msg          string
	}{
		{name: "malformed JSON", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"full_name": "x",`, status: 400, code: "bad_json", msg: "the body ends inside a value at byte 18"},
		{name: "syntax error offset", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"full_name": x}`, status: 400, code: "bad_json", msg: "malformed JSON at byte 15: invalid character 'x'"},
		{name: "duplicate key", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"full_name":"A","full_name":"B"}`, status: 400, code: "bad_json", msg: `duplicate key "full_name" at byte 17`},
		{name: "invalid UTF-8", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: "{\"full_name\":\"Tr\xe1\xba\"}", status: 400, code: "bad_json", msg: "invalid UTF-8 in /full_name at byte 16"},
		{name: "lone surrogate", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"full_name":"A\ud800"}`, status: 400, code: "bad_json", msg: `lone surrogate \uD800 (a high surrogate without its low half) in /full_name at byte 15`},
		{name: "trailing garbage", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: goodCitizen + `}`, status: 400, code: "bad_request", msg: "trailing data"},
		{name: "not an object", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `["x"]`, status: 400, code: "bad_request", msg: "JSON object"},
		{name: "empty body", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: ``, status: 400, code: "bad_request", msg: "empty body"},
		{name: "bad date", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: strings.Replace(goodCitizen, "1990-02-03", "1990-02-30", 1), status: 400, code: "invalid", field: "birth_date", rule: "date"},
		{name: "enum", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"sex":"x"}`, status: 400, code: "invalid", field: "sex", rule: "enum"},
		{name: "missing required", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"full_name":"A"}`, status: 400, code: "invalid", field: "birth_date", rule: "required"},
		{name: "unknown field", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"nickname":"A"}`, status: 400, code: "invalid", field: "nickname", rule: "unknown_field"},
		{name: "field of another dataset", method: "PATCH", path: "/v1/datasets/population.identity/entities/079090000001",
			body: `{"insurance_number":"DN4790123456789"}`, status: 400, code: "invalid", field: "insurance_number", rule: "not_in_dataset"},
		{name: "bad key", method: "PUT", path: "/v1/datasets/population.identity/entities/12345",
			body: goodCitizen, status: 400, code: "invalid", rule: "key_pattern"},
		{name: "key outside prefix", method: "PUT", path: "/v1/datasets/land.01/entities/79-00001-1-1",
			body: `{}`, status: 400, code: "invalid", rule: "key_prefix"},
		{name: "wrong owner", method: "PUT", path: "/v1/datasets/land.79/entities/79-00001-1-1",
			body: `{"commune_code":"00001","area_m2":"10","land_use":"forest"}`, status: 403, code: "not_owner", msg: "owned by moh"},
		{name: "unknown dataset", method: "PUT", path: "/v1/datasets/nope/entities/079090000001",
			body: goodCitizen, status: 404, code: "not_found", msg: `"nope"`},
		{name: "delete missing entity", method: "DELETE", path: "/v1/datasets/population.identity/entities/079090000002",
			status: 404, code: "not_found"},
		{name: "oversized body", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: big, status: 413, code: "too_large"},
		{name: "no token", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: goodCitizen, token: "-", status: 401, code: "unauthorized"},
		{name: "bad token", method: "GET", path: "/v1/status", token: "lt_admin_nope", status: 401, code: "unauthorized"},
		{name: "read token writes", method: "PUT", path: "/v1/datasets/population.identity/entities/079090000001",
			body: goodCitizen, token: "read", status: 403, code: "forbidden", msg: "write role"},
		{name: "metrics token reads an entity", method: "GET", path: "/v1/entities/citizen/079090000001",
			token: "metrics", status: 403, code: "forbidden", msg: "read role"},
		{name: "metrics token reads status", method: "GET", path: "/v1/status",
			token: "metrics", status: 403, code: "forbidden", msg: "read role"},
		{name: "write token changes schema", method: "PUT", path: "/v1/schemas/citizen",
			body: `{}`, token: "write", status: 403, code: "forbidden", msg: "admin role"},
		{name: "incompatible schema", method: "PUT", path: "/v1/schemas/citizen",
			body:   `{"name":"citizen","version":1,"key":{"pattern":"^[0-9]{12}$"},"fields":{"full_name":{"type":"integer"}}}`,
			status: 409, code: "conflict", msg: "version"},
		{name: "schema name mismatch", method: "PUT", path: "/v1/schemas/other",
			body:   `{"name":"citizen","version":2,"key":{"pattern":"^[0-9]{12}$"},"fields":{"a":{"type":"string"}}}`,
			status: 400, code: "bad_request"},
		{name: "malformed schema", method: "PUT", path: "/v1/schemas/citizen", body: `{"name":`, status: 400, code: "invalid"},
		{name: "overlapping dataset", method: "PUT", path: "/v1/datasets/population.extra",
			body:   `{"name":"population.extra","entity_type":"citizen","fields":["full_name"],"owner":"mps"}`,
			status: 409, code: "conflict", msg: "overlaps"},
		{name: "dataset of unknown member", method: "PUT", path: "/v1/datasets/x.y",
			body:   `{"name":"x.y","entity_type":"commune","fields":["name"],"key_prefix":"9","owner":"hanoi"}`,
			status: 400, code: "invalid", msg: "not a member"},
		{name: "batch with one bad record", method: "POST", path: "/v1/datasets/population.identity/batch",
			body:   `{"records":[{"key":"079090000003","fields":` + goodCitizen + `},{"key":"079090000004","fields":{"full_name":"A"}}]}`,
			status: 400, code: "invalid", field: "birth_date", rule: "required"},
		{name: "batch unknown member", method: "POST", path: "/v1/datasets/population.identity/batch",
			body: `{"rows":[]}`, status: 400, code: "bad_request", msg: "unknown field"},
		{name: "unknown route", method: "GET", path: "/v2/x", status: 404, code: "not_found"},
		{name: "wrong method", method: "POST", path: "/v1/schemas/citizen", body: `{}`, status: 405, code: "method_not_allowed", msg: "takes GET, PUT"},
		{name: "wrong method on an entity", method: "GET", path: "/v1/datasets/population.identity/entities/079090000001",
			status: 405, code: "method_not_allowed", msg: "takes PUT, PATCH, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tn.snapshot()
			var tok []string
			switch tt.token {
			case "-":
				tok = []string{""}
			case "read":
				tok = []string{tn.tokens.ReadToken}
			case "write":
				tok = []string{tn.tokens.WriteToken}
			case "metrics":
				tok = []string{tn.tokens.MetricsToken}
			case "":
			default:
				tok = []string{tt.token}
			}
			code, b := tn.do(tt.method, tt.path, tt.body, tok...)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, b)
			}
			var eb api.ErrorBody
			if err := json.Unmarshal(b, &eb); err != nil {
				t.Fatalf("error body %q: %v", b, err)
			}
			e := eb.Error
			if e.Code != tt.code || e.Field != tt.field || e.Rule != tt.rule || e.Message == "" ||
				!strings.Contains(e.Message, tt.msg) {
				t.Fatalf("error %+v, want code %q field %q rule %q message containing %q", e, tt.code, tt.field, tt.rule, tt.msg)
			}
			if after := tn.snapshot(); after != before {
				t.Fatalf("a rejected request changed the node:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestBatchIndexAndPartial(t *testing.T) {
	tn := newTestNode(t)
	recs := `[{"key":"079090000011","fields":` + goodCitizen + `},{"key":"079090000012","fields":{"full_name":"A"}},{"key":"079090000013","fields":` + goodCitizen + `}]`
	code, b := tn.do("POST", "/v1/datasets/population.identity/batch", `{"records":`+recs+`}`)
	var eb api.ErrorBody
	json.Unmarshal(b, &eb)
	if code != 400 || eb.Error.Index == nil || *eb.Error.Index != 1 {
		t.Fatalf("all-or-nothing batch: %d %s, want 400 with index 1", code, b)
	}
	code, b = tn.do("POST", "/v1/datasets/population.identity/batch", `{"partial":true,"records":`+recs+`}`)
	var br api.BatchResponse
	json.Unmarshal(b, &br)
	if code != 200 || br.Written != 2 || len(br.Rejects) != 1 || br.Rejects[0].Index != 1 || br.Rejects[0].Error.Rule != "required" {
		t.Fatalf("partial batch: %d %s", code, b)
	}
	if code, _ := tn.do("GET", "/v1/entities/citizen/079090000013", ""); code != 200 {
		t.Fatalf("record after the reject not written: %d", code)
	}
}

func TestReadsAndChanges(t *testing.T) {
	tn := newTestNode(t)
	tn.do("PUT", "/v1/datasets/population.identity/entities/079090000001", goodCitizen)
	tn.do("PUT", "/v1/datasets/health.insurance/entities/079090000001", `{"insurance_number":"DN4790123456789","clinic_visits":2}`)
	tn.do("PATCH", "/v1/datasets/health.insurance/entities/079090000001", `{"clinic_visits":{"increment":3}}`)
	code, b := tn.do("GET", "/v1/entities/citizen/079090000001?provenance=true", "", tn.tokens.ReadToken)
	var ent struct {
		Fields     map[string]json.RawMessage
		Datasets   []string
		Provenance map[string]struct{ Dataset, Origin string }
	}
	json.Unmarshal(b, &ent)
	if code != 200 || string(ent.Fields["clinic_visits"]) != "5" || string(ent.Fields["full_name"]) != `"Trần Thị Bình"` ||
		len(ent.Datasets) != 2 || ent.Provenance["full_name"].Dataset != "population.identity" || ent.Provenance["full_name"].Origin != "mps" {
		t.Fatalf("merged entity: %d %s", code, b)
	}
	code, b = tn.do("GET", "/v1/changes?since=1", "")
	var page api.ChangesPage
	json.Unmarshal(b, &page)
	if code != 200 || len(page.Changes) != 2 || page.Changes[0].Cursor != 2 || page.Next != 3 || page.Changes[1].Origin != "mps" {
		t.Fatalf("changes since 1: %d %s", code, b)
	}
	code, b = tn.do("GET", "/v1/entities/citizen?limit=1", "")
	if code != 200 || !bytes.Contains(b, []byte(`"items":[{`)) {
		t.Fatalf("listing: %d %s", code, b)
	}
	if code, b := tn.do("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz without a token: %d %s", code, b)
	}
	if code, b := tn.do("GET", "/metrics", ""); code != 200 || !bytes.Contains(b, []byte("lienthong_api_requests_total")) {
		t.Fatalf("metrics: %d", code)
	}
}

// TestHealthzReportsFailedStore: /healthz says ok while the store works,
// and 503 with the reason once a disk error has failed it (writes get 503
// too), without a token either way.
func TestHealthzReportsFailedStore(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".log") {
			return syscall.ENOSPC
		}
		return nil
	}))
	tn := newTestNodeWith(t, node.Options{FS: fs})
	health := func() (int, map[string]string) {
		code, b := tn.do("GET", "/healthz", "", "")
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("healthz body %q: %v", b, err)
		}
		return code, body
	}
	if code, body := health(); code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("healthz on a working store: %d %v", code, body)
	}
	full.Store(true)
	if code, b := tn.do("PUT", "/v1/datasets/population.identity/entities/079090000001", goodCitizen); code != http.StatusServiceUnavailable {
		t.Fatalf("write on a full disk: %d %s", code, b)
	}
	code, body := health()
	if code != http.StatusServiceUnavailable || body["status"] != "failed" ||
		!strings.Contains(body["reason"], "no space left on device") || !strings.Contains(body["reason"], "restart") {
		t.Fatalf("healthz on a failed store: %d %v", code, body)
	}
}

func TestChangesFollow(t *testing.T) {
	tn := newTestNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tn.srv.URL+"/v1/changes", nil)
	req.Header.Set("Authorization", "Bearer "+tn.tokens.ReadToken)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// The write happens after the stream is open: the event must arrive live.
	tn.do("PUT", "/v1/datasets/population.identity/entities/079090000001", goodCitizen)
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("\n\n")) {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("read event: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.HasPrefix(got, []byte("id: 1\nevent: change\ndata: {")) || !bytes.Contains(got, []byte(`"key":"079090000001"`)) {
		t.Fatalf("event %q", got)
	}
}

func TestMetaSnapshotRestore(t *testing.T) {
	tn := newTestNode(t)
	key := bytes.Repeat([]byte{7}, 32)
	if _, err := tn.n.Meta().Propose(context.Background(), meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{key}}); err != nil {
		t.Fatal(err)
	}
	code, backup := tn.do("GET", "/v1/meta/snapshot", "")
	if code != 200 || !bytes.Contains(backup, []byte(`"population.identity"`)) {
		t.Fatalf("save: %d %s", code, backup)
	}
	if bytes.Contains(backup, []byte("gossip_keys")) || bytes.Contains(backup, []byte(base64.StdEncoding.EncodeToString(key))) {
		t.Fatalf("the backup serves the gossip key: %s", backup)
	}
	if code, b := tn.do("POST", "/v1/datasets/land.79/transfer", `{"to":"mps"}`); code != 200 {
		t.Fatalf("transfer: %d %s", code, b)
	}
	if d := tn.n.Meta().View().Dataset("land.79"); d.Owner != "mps" || d.OwnerEpoch != 2 {
		t.Fatalf("after transfer: %+v", d)
	}
	if code, b := tn.do("PUT", "/v1/meta/snapshot", `{"index":1,"members":[`); code != 400 {
		t.Fatalf("restore of a broken backup: %d %s", code, b)
	}
	before := tn.n.Meta().View().Index
	if code, b := tn.do("PUT", "/v1/meta/snapshot", string(backup)); code != 200 {
		t.Fatalf("restore: %d %s", code, b)
	}
	v := tn.n.Meta().View()
	if d := v.Dataset("land.79"); d.Owner != "moh" || d.OwnerEpoch != 1 || v.Index <= before {
		t.Fatalf("after restore: %+v at index %d (was %d)", d, v.Index, before)
	}
	if len(v.Settings.GossipKeys) != 1 || !bytes.Equal(v.Settings.GossipKeys[0], key) {
		t.Fatalf("after restore: gossip keys %x, want the federation's %x kept", v.Settings.GossipKeys, key)
	}
	// Grant, revoke and transfer errors name what is wrong.
	for _, tt := range []struct{ path, body, code, msg string }{
		{"/v1/datasets/land.79/grant", `{"reader":"hanoi"}`, "invalid", "not a member"},
		{"/v1/datasets/land.79/transfer", `{"to":"hanoi"}`, "invalid", "not a member"},
		{"/v1/datasets/nope/grant", `{"reader":"mps"}`, "not_found", "nope"},
		{"/v1/datasets/land.79/grant", `{"reader":"moh"}`, "invalid", "owns"},
	} {
		code, b := tn.do("POST", tt.path, tt.body)
		var eb api.ErrorBody
		json.Unmarshal(b, &eb)
		if code < 400 || eb.Error.Code != tt.code || !strings.Contains(eb.Error.Message, tt.msg) {
			t.Errorf("%s %s: %d %s", tt.path, tt.body, code, b)
		}
	}
	if code, b := tn.do("POST", "/v1/datasets/land.79/grant", `{"reader":"mps"}`); code != 200 || !slices.Contains(tn.n.Meta().View().Dataset("land.79").Readers, "mps") {
		t.Fatalf("grant: %d %s", code, b)
	}
	if code, b := tn.do("DELETE", "/v1/members/moh", ""); code != 409 {
		t.Fatalf("removing an owner: %d %s, want 409", code, b)
	}
}

// TestMetricsToken: the token init makes for Prometheus scrapes /metrics;
// the table of TestRejectedRequestsChangeNothing shows it reads nothing else.
func TestMetricsToken(t *testing.T) {
	tn := newTestNode(t)
	code, b := tn.do("GET", "/metrics", "", tn.tokens.MetricsToken)
	if code != http.StatusOK || !bytes.Contains(b, []byte("lienthong_meta_index")) {
		t.Fatalf("GET /metrics with the metrics token: %d %.200s", code, b)
	}
}

// TestReadyz: /readyz needs no token and names each check.
func TestReadyz(t *testing.T) {
	tn := newTestNode(t)
	code, b := tn.do("GET", "/readyz", "", "")
	var r node.Readiness
	if err := json.Unmarshal(b, &r); err != nil || code != http.StatusOK || !r.Ready || r.Checks["store"] != "ok" || r.Checks["metadata"] != "ok" {
		t.Fatalf("GET /readyz: %d %s (%v)", code, b, err)
	}
}

// TestChangesFilter: ?dataset= and ?type= keep one dataset's or one type's
// changes, a page at a time with more and next; a name that does not exist
// is a 404, not an empty feed for ever.
func TestChangesFilter(t *testing.T) {
	tn := newTestNode(t)
	for i := 1; i <= 3; i++ {
		key := fmt.Sprintf("07909000000%d", i)
		if code, b := tn.do("PUT", "/v1/datasets/population.identity/entities/"+key, goodCitizen); code != http.StatusCreated {
			t.Fatalf("put: %d %s", code, b)
		}
		if code, b := tn.do("PUT", "/v1/datasets/health.insurance/entities/"+key, `{"insurance_number":"DN479012345678`+strconv.Itoa(i)+`"}`); code != http.StatusCreated {
			t.Fatalf("put: %d %s", code, b)
		}
	}
	page := func(query string) api.ChangesPage {
		t.Helper()
		code, b := tn.do("GET", "/v1/changes?"+query, "")
		var p api.ChangesPage
		if err := json.Unmarshal(b, &p); code != http.StatusOK || err != nil {
			t.Fatalf("GET /v1/changes?%s: %d %s", query, code, b)
		}
		return p
	}
	var keys []string
	for since, n := uint64(0), 0; ; n++ {
		p := page(fmt.Sprintf("dataset=health.insurance&limit=2&since=%d", since))
		for _, c := range p.Changes {
			if c.Dataset != "health.insurance" {
				t.Fatalf("the filter let through %+v", c)
			}
			keys = append(keys, c.Key)
		}
		if !p.More {
			break
		}
		if n > 3 || p.Next <= since {
			t.Fatalf("paging does not advance: %+v after since=%d", p, since)
		}
		since = p.Next
	}
	if strings.Join(keys, ",") != "079090000001,079090000002,079090000003" {
		t.Fatalf("health.insurance's changes, paged by 2: %v", keys)
	}
	if p := page("type=citizen"); len(p.Changes) != 6 || p.More {
		t.Fatalf("type=citizen: %d changes, more %v; want 6, false", len(p.Changes), p.More)
	}
	if p := page("type=land_parcel"); len(p.Changes) != 0 || p.More || p.Next == 0 {
		t.Fatalf("type=land_parcel: %+v; want none, with next past what was looked at", p)
	}
	for _, q := range []string{"dataset=health.insurence", "type=citizn"} {
		if code, b := tn.do("GET", "/v1/changes?"+q, ""); code != http.StatusNotFound || !strings.Contains(string(b), "does not exist") {
			t.Errorf("GET /v1/changes?%s: %d %s; want 404 naming it", q, code, b)
		}
	}
}
