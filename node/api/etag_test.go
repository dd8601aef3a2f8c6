package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/node/api"
)

// doHeaders is do with request headers (pairs of name, value), returning the
// answer's headers too; it uses the admin token.
func (tn *testNode) doHeaders(method, path, body string, hdr ...string) (int, http.Header, []byte) {
	tn.t.Helper()
	req, _ := http.NewRequest(method, tn.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tn.tokens.AdminToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

const (
	citizenPath  = "/v1/entities/citizen/079090000001"
	identityPath = "/v1/datasets/population.identity/entities/079090000001"
)

// etagOf reads the entity's ETag with GET.
func (tn *testNode) etagOf(path string) string {
	tn.t.Helper()
	code, h, b := tn.doHeaders("GET", path, "")
	if code != 200 {
		tn.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	return h.Get("ETag")
}

func TestETagAndIfMatch(t *testing.T) {
	tn := newTestNode(t)
	code, h, b := tn.doHeaders("PUT", identityPath, goodCitizen, "If-None-Match", "*")
	created := h.Get("ETag")
	if code != 201 || !strings.HasPrefix(created, `"`) || !strings.HasSuffix(created, `"`) || len(created) < 3 {
		t.Fatalf("create-only put: %d ETag %q %s", code, created, b)
	}
	if got := tn.etagOf(citizenPath); got != created {
		t.Fatalf("GET answers ETag %s, the put %s", got, created)
	}
	if code, _, b := tn.doHeaders("PUT", identityPath, goodCitizen, "If-None-Match", "*"); code != 412 || !strings.Contains(string(b), "precondition_failed") {
		t.Fatalf("second create-only put: %d %s, want 412", code, b)
	}

	code, h, b = tn.doHeaders("PATCH", identityPath, `{"sex":"male"}`, "If-Match", created)
	patched := h.Get("ETag")
	if code != 200 || patched == "" || patched == created || patched != tn.etagOf(citizenPath) {
		t.Fatalf("patch on the current ETag: %d ETag %q (before %q) %s", code, patched, created, b)
	}

	before := tn.snapshot()
	for _, tt := range []struct {
		name, method, body string
		hdr                []string
		status             int
		code, msg          string
	}{
		{"stale If-Match", "PATCH", `{"sex":"female"}`, []string{"If-Match", created}, 412, "precondition_failed", "ETag is now " + patched},
		{"weak If-Match", "PUT", goodCitizen, []string{"If-Match", "W/" + patched}, 412, "precondition_failed", "read it again"},
		{"stale delete", "DELETE", "", []string{"If-Match", created}, 412, "precondition_failed", patched},
		{"If-None-Match its ETag", "PUT", goodCitizen, []string{"If-None-Match", `"x", ` + patched}, 412, "precondition_failed", "excludes"},
		{"unquoted If-Match", "PUT", goodCitizen, []string{"If-Match", strings.Trim(patched, `"`)}, 400, "bad_request", "quotes included"},
		{"If-Match list without commas", "PUT", goodCitizen, []string{"If-Match", `"a" "b"`}, 400, "bad_request", "commas"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, h, b := tn.doHeaders(tt.method, identityPath, tt.body, tt.hdr...)
			var eb api.ErrorBody
			json.Unmarshal(b, &eb)
			if code != tt.status || eb.Error.Code != tt.code || !strings.Contains(eb.Error.Message, tt.msg) {
				t.Fatalf("%d %s, want %d %s with %q", code, b, tt.status, tt.code, tt.msg)
			}
			if code == 412 && h.Get("ETag") != patched {
				t.Errorf("412 carries ETag %q, want the current %s", h.Get("ETag"), patched)
			}
			if after := tn.snapshot(); after != before {
				t.Fatalf("a refused write changed the node:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// A list with the current ETag, then * (must exist), then a delete.
	code, h, b = tn.doHeaders("PUT", identityPath, goodCitizen, "If-Match", `"other", `+patched)
	if code != 200 || h.Get("ETag") == patched {
		t.Fatalf("put on a list holding the current ETag: %d %q %s", code, h.Get("ETag"), b)
	}
	if code, _, b := tn.doHeaders("PATCH", identityPath, `{"sex":"male"}`, "If-Match", "*"); code != 200 {
		t.Fatalf("If-Match * on an existing entity: %d %s", code, b)
	}
	code, h, b = tn.doHeaders("DELETE", identityPath, "", "If-Match", tn.etagOf(citizenPath))
	if code != 200 || h.Get("ETag") != "" {
		t.Fatalf("conditional delete: %d ETag %q %s", code, h.Get("ETag"), b)
	}
	if code, _, b := tn.doHeaders("PUT", identityPath, goodCitizen, "If-Match", "*"); code != 412 || !strings.Contains(string(b), "does not exist") {
		t.Fatalf("If-Match * on a deleted entity: %d %s, want 412", code, b)
	}
	// Accepted writes are timed by mode; refused ones are not.
	_, metrics := tn.do("GET", "/metrics", "")
	for _, want := range []string{`lienthong_write_duration_seconds_count{mode="put"} 2`, `lienthong_write_duration_seconds_count{mode="patch"} 2`,
		`lienthong_write_duration_seconds_count{mode="delete"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestConcurrentIfMatchHTTP: writers that send the same If-Match at once:
// exactly one is answered 200, the others 412 with the winner's ETag.
func TestConcurrentIfMatchHTTP(t *testing.T) {
	const writers, rounds = 8, 10
	tn := newTestNode(t)
	if code, b := tn.do("PUT", identityPath, goodCitizen); code != 201 {
		t.Fatalf("put: %d %s", code, b)
	}
	tag := tn.etagOf(citizenPath)
	for round := range rounds {
		type answer struct {
			code int
			etag string
		}
		answers := make([]answer, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sex := []string{`{"sex":"male"}`, `{"sex":"female"}`}[g%2]
				req, _ := http.NewRequest("PATCH", tn.srv.URL+identityPath, strings.NewReader(sex))
				req.Header.Set("Authorization", "Bearer "+tn.tokens.WriteToken)
				req.Header.Set("If-Match", tag)
				<-start
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				answers[g] = answer{resp.StatusCode, resp.Header.Get("ETag")}
			}()
		}
		close(start)
		wg.Wait()
		won := -1
		for g, a := range answers {
			switch {
			case a.code == 200 && won >= 0:
				t.Fatalf("round %d: writers %d and %d both won with If-Match %s", round, won, g, tag)
			case a.code == 200:
				won = g
			case a.code != 412:
				t.Fatalf("round %d: writer %d answered %d", round, g, a.code)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: nobody won with the current ETag %s", round, tag)
		}
		tag = answers[won].etag
		for g, a := range answers {
			if a.code == 412 && a.etag != tag {
				t.Fatalf("round %d: writer %d refused with ETag %s, the winner's is %s", round, g, a.etag, tag)
			}
		}
		if got := tn.etagOf(citizenPath); got != tag {
			t.Fatalf("round %d: GET answers %s, the winner %s", round, got, tag)
		}
	}
}

// TestBatchIfMatch: a batch record's if_match is checked like If-Match, and
// a refusal is reported with its index.
func TestBatchIfMatch(t *testing.T) {
	tn := newTestNode(t)
	tn.do("PUT", identityPath, goodCitizen)
	tag, _ := json.Marshal(tn.etagOf(citizenPath))
	rec := func(key, ifMatch string) string {
		return `{"key":"` + key + `","fields":` + goodCitizen + `,"if_match":` + ifMatch + `}`
	}
	body := `{"records":[` + rec("079090000001", string(tag)) + `,` + rec("079090000001", string(tag)) + `]}`
	before := tn.snapshot()
	code, b := tn.do("POST", "/v1/datasets/population.identity/batch", body)
	var eb api.ErrorBody
	json.Unmarshal(b, &eb)
	if code != 412 || eb.Error.Code != "precondition_failed" || eb.Error.Index == nil || *eb.Error.Index != 1 {
		t.Fatalf("batch with two writes on one ETag: %d %s, want 412 at index 1", code, b)
	}
	if tn.snapshot() != before {
		t.Fatal("a refused batch changed the node")
	}
	code, b = tn.do("POST", "/v1/datasets/population.identity/batch", `{"partial":true,"records":[`+rec("079090000001", string(tag))+`,`+rec("079090000002", `"*"`)+`]}`)
	var br api.BatchResponse
	json.Unmarshal(b, &br)
	if code != 200 || br.Written != 1 || len(br.Rejects) != 1 || br.Rejects[0].Index != 1 || br.Rejects[0].Error.Code != "precondition_failed" {
		t.Fatalf("partial batch: %d %s", code, b)
	}
	if code, b := tn.do("POST", "/v1/datasets/population.identity/batch", `{"records":[`+rec("079090000003", `"\"x\""`)+`]}`); code != 412 {
		t.Fatalf("if_match on a missing entity: %d %s", code, b)
	}
	if code, b := tn.do("POST", "/v1/datasets/population.identity/batch", `{"records":[`+rec("079090000003", `"x"`)+`]}`); code != 400 || !strings.Contains(string(b), "records[0].if_match") {
		t.Fatalf("unquoted if_match: %d %s", code, b)
	}
}
