package node

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/meta"
)

// TestFedMemberAdminForbidden: the admin token of a member's node carries
// that member's authority, not the federation's. Through hcm's API, with
// hcm's admin token, every change that needs a seed answers 403 forbidden
// naming hcm and the authority needed, and changes nothing; the grant hcm
// may make (a reader of its own dataset) applies; the seed's API does the
// rest; the refusals show in /metrics.
func TestFedMemberAdminForbidden(t *testing.T) {
	nodes := startFed(t, "s1", "hcm", "moh")
	s1, hcm := nodes["s1"], nodes["hcm"]
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if ty.Name == "citizen" {
			propose(t, s1, meta.Command{Op: meta.OpPutType, Type: ty})
		}
	}
	propose(t, s1, meta.Command{Op: meta.OpPutDataset, Dataset: mustDataset(t,
		`{"name":"population.identity","entity_type":"citizen","fields":["full_name","birth_date"],"owner":"hcm"}`)})
	v := propose(t, s1, meta.Command{Op: meta.OpPutDataset, Dataset: mustDataset(t,
		`{"name":"population.phones","entity_type":"citizen","fields":["phones"],"owner":"s1"}`)})
	waitFor(t, "hcm applies the datasets", func() bool { return hcm.Meta().View().Index >= v.Index })

	api := func(n *Node) (*httptest.Server, string) {
		srv := httptest.NewServer(n.Handler())
		t.Cleanup(srv.Close)
		tok, err := os.ReadFile(filepath.Join(n.cfg.Dir, AdminTokenFile))
		if err != nil {
			t.Fatal(err)
		}
		return srv, strings.TrimSpace(string(tok))
	}
	call := func(srv *httptest.Server, tok, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	hsrv, htok := api(hcm)
	ssrv, stok := api(s1)
	schema, err := os.ReadFile("../docs/examples/schemas/land_parcel.json")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []struct{ method, path, body, what string }{
		{"PUT", "/v1/schemas/land_parcel", string(schema), "put entity type land_parcel"},
		{"PUT", "/v1/members/evil2", `{"role":"seed","peer_id":"` + s1.PeerID() + `"}`, "admit or change member evil2 as seed"},
		{"DELETE", "/v1/members/moh", "", "remove member moh"},
		{"POST", "/v1/datasets/population.identity/transfer", `{"to":"moh"}`, "transfer dataset population.identity to moh"},
		{"POST", "/v1/datasets/population.phones/grant", `{"reader":"hcm"}`, "grant hcm read access to dataset population.phones"},
		{"POST", "/v1/meta/gossip-keys", `{"action":"add"}`, "set the federation's gossip keys"},
	}
	index := s1.Meta().View().Index
	for _, tc := range forbidden {
		code, body := call(hsrv, htok, tc.method, tc.path, tc.body)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		if code != http.StatusForbidden || e.Error.Code != "forbidden" {
			t.Errorf("%s %s through hcm: %d %s; want 403 forbidden", tc.method, tc.path, code, body)
			continue
		}
		for _, s := range []string{"member hcm", tc.what, "seed", "s1"} {
			if !strings.Contains(e.Error.Message, s) {
				t.Errorf("%s %s: message %q does not say %q", tc.method, tc.path, e.Error.Message, s)
			}
		}
	}
	if got := s1.Meta().View().Index; got != index {
		t.Errorf("refused changes moved the metadata index from %d to %d", index, got)
	}
	// What hcm may do: choose the readers of its own dataset.
	if code, body := call(hsrv, htok, "POST", "/v1/datasets/population.identity/grant", `{"reader":"moh"}`); code != http.StatusOK {
		t.Fatalf("hcm grants moh its own dataset: %d %s", code, body)
	}
	if r := s1.Meta().View().Dataset("population.identity").Readers; !slices.Equal(r, []string{"moh"}) {
		t.Fatalf("population.identity readers at s1: %v; want [moh]", r)
	}
	// The seed's operator does the rest.
	if code, body := call(ssrv, stok, "PUT", "/v1/schemas/land_parcel", string(schema)); code != http.StatusCreated {
		t.Fatalf("schema put at the seed: %d %s", code, body)
	}
	if code, body := call(ssrv, stok, "POST", "/v1/datasets/population.identity/transfer", `{"to":"moh"}`); code != http.StatusOK {
		t.Fatalf("transfer at the seed: %d %s", code, body)
	}
	last := s1.Meta().View().Index
	waitFor(t, "hcm applies the transfer", func() bool { return hcm.Meta().View().Index >= last })
	// The leader turned the refusals away before its log and counted them;
	// hcm's own node, which only passed them on, counted none.
	for _, srv := range []struct {
		s       *httptest.Server
		tok     string
		counted bool
	}{{hsrv, htok, false}, {ssrv, stok, true}} {
		_, m := call(srv.s, srv.tok, "GET", "/metrics", "")
		for _, want := range []string{`lienthong_meta_proposals_refused_total{op="put_type"} 1`,
			`lienthong_meta_proposals_refused_total{op="transfer"} 1`, `lienthong_meta_proposals_refused_total{op="grant"} 1`} {
			if strings.Contains(m, want) != srv.counted {
				t.Errorf("%s/metrics: has %s %v, want %v", srv.s.URL, want, !srv.counted, srv.counted)
			}
		}
	}
}

// TestRecoverSeedsRefusesBadLists: --recover-seeds names seeds of the
// node's own metadata, itself among them; anything else stops the start
// with a message saying what to name, and leaves the node as it was.
func TestRecoverSeedsRefusesBadLists(t *testing.T) {
	nodes := startFed(t, "s1", "hcm")
	s1 := nodes["s1"]
	cfg := s1.cfg
	s1.Close()
	for _, tc := range []struct {
		seeds []string
		want  string
	}{
		{[]string{"nobody"}, `"nobody" is not a seed`},
		{[]string{"hcm"}, `"hcm" is not a seed`},
	} {
		if n, err := New(cfg, Options{RecoverSeeds: tc.seeds, FastTimers: true}); err == nil || !strings.Contains(err.Error(), tc.want) {
			if n != nil {
				n.Close()
			}
			t.Errorf("recover with %v: %v; want %q", tc.seeds, err, tc.want)
		}
	}
	n, err := New(cfg, Options{FastTimers: true})
	if err != nil {
		t.Fatalf("a plain restart after the refused recoveries: %v", err)
	}
	defer n.Close()
	waitFor(t, "s1 leads again", func() bool { return n.fed.control.IsLeader() })
}
