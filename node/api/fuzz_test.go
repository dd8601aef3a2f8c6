package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lienthong/lienthong/node/api"
)

// FuzzWrite: any body of a put, patch or batch answers a 2xx or a 4xx with
// a JSON error, never a 500 or a panic; what a write acknowledges reads
// back as valid JSON in UTF-8.
func FuzzWrite(f *testing.F) {
	tn := newTestNode(f)
	for _, s := range []string{goodCitizen, `{"phones":{"add":["0901234567"]}}`, `{"clinic_visits":{"increment":9223372036854775807}}`,
		`{"full_name":"A","full_name":"B"}`, "{\"full_name\":\"\xff\"}", `{"full_name":"\ud800"}`, `{"sex":null}`,
		`{"mode":"put","records":[{"key":"079090000002","fields":` + goodCitizen + `}]}`, `{"records":[null]}`, `[]`, ``} {
		for mode := range uint8(3) {
			f.Add(mode, []byte(s))
		}
	}
	const key = "/v1/datasets/population.identity/entities/079090000001"
	f.Fuzz(func(t *testing.T, mode uint8, body []byte) {
		method, path := "PUT", key
		switch mode % 3 {
		case 1:
			method = "PATCH"
		case 2:
			method, path = "POST", "/v1/datasets/population.identity/batch"
		}
		code, resp := send(t, tn, method, path, string(body))
		if code >= 500 {
			t.Fatalf("%s %q: %d %s", method, body, code, resp)
		}
		if code >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(resp, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %q: %d without a JSON error: %s", method, body, code, resp)
			}
			return
		}
		code, resp = send(t, tn, "GET", "/v1/entities/citizen/079090000001", "")
		if code != 200 && code != 404 || !json.Valid(resp) || !utf8.Valid(resp) {
			t.Fatalf("after %s %q: GET %d %q", method, body, code, resp)
		}
	})
}

func send(t *testing.T, tn *testNode, method, path, body string) (int, []byte) {
	req, _ := http.NewRequest(method, tn.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tn.tokens.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// FuzzParseRole: a role parses only from its own name, and names itself.
func FuzzParseRole(f *testing.F) {
	for _, s := range []string{"metrics", "read", "write", "admin", "none", "", "Admin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := api.ParseRole(s)
		if (err == nil) != (r.String() == s && r != api.RoleNone) {
			t.Fatalf("ParseRole(%q) = %v, %v", s, r, err)
		}
	})
}
