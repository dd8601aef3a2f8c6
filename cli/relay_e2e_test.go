package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRelay cuts the link between a dataset's owner and one of its readers
// (--block-peers, the gater's test hook, on both sides): the reader still
// gets every op, through the other reader, and the members outside the read
// list get none, though they are connected to everyone.
func TestRelay(t *testing.T) {
	c := newFedCluster(t, []string{"s1"}, []string{"hcm", "moh", "mps", "mof"})
	c.waitHealthy(60*time.Second, []string{"s1"}, []string{"hcm", "mof", "moh", "mps"})
	c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
	r := c.mustCall("s1", "PUT", "/v1/datasets/population.identity", map[string]any{
		"name": "population.identity", "entity_type": "citizen", "owner": "hcm", "readers": []string{"moh", "mps"},
		"fields": []string{"full_name", "birth_date", "sex", "birth_province"}}, http.StatusCreated)
	c.waitConverged(30*time.Second, metaIndexOf(t, r))
	// Cut hcm <-> mps.
	c.nodes["hcm"].kill()
	c.nodes["mps"].kill()
	c.start("hcm", "--block-peers", c.nodes["mps"].peerID)
	c.start("mps", "--block-peers", c.nodes["hcm"].peerID)

	const n = 200
	var recs strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&recs, `{"key":"0790900%05d","fields":{"full_name":"Người %d","birth_date":"1991-02-03","sex":"male","birth_province":"79"}}`+"\n", i, i)
	}
	if res := runInput(t, nil, recs.String(), "import", "population.identity", "-", "--api", c.nodes["hcm"].url(), "--token", c.nodes["hcm"].write); res.code != 0 {
		t.Fatalf("import at hcm: %d %s", res.code, res.stderr)
	}
	start := time.Now()
	streamSeq := func(name string) (uint64, string) {
		resp, err := c.call(name, "GET", "/v1/status", nil)
		if err != nil {
			return 0, err.Error()
		}
		var st struct {
			Datasets []struct {
				Name    string `json:"name"`
				Streams []struct {
					Origin string `json:"origin"`
					Seq    uint64 `json:"seq"`
				} `json:"streams"`
			} `json:"datasets"`
			Peers []struct {
				Name      string `json:"name"`
				Connected bool   `json:"connected"`
			} `json:"peers"`
		}
		json.Unmarshal(resp.body, &st)
		for _, d := range st.Datasets {
			for _, s := range d.Streams {
				if d.Name == "population.identity" && s.Origin == "hcm" {
					return s.Seq, resp.String()
				}
			}
		}
		return 0, resp.String()
	}
	for _, name := range []string{"moh", "mps"} {
		c.waitFor(30*time.Second, name+" has every op", func() (bool, string) {
			seq, st := streamSeq(name)
			return seq == n, st
		})
	}
	t.Logf("mps reached %d ops through moh %v after the import", n, time.Since(start).Round(time.Millisecond))
	// mps never talked to hcm: its status shows hcm not connected.
	if resp := c.mustCall("mps", "GET", "/v1/status", nil, 200); !strings.Contains(string(resp.body), `"name":"hcm","connected":false`) {
		t.Fatalf("mps is connected to hcm despite the block: %s", resp.body)
	}
	for _, name := range []string{"s1", "mof"} {
		if seq, st := streamSeq(name); seq != 0 {
			t.Fatalf("%s may not read the dataset but holds %d of its ops: %s", name, seq, st)
		}
		if resp, _ := c.call(name, "GET", "/v1/entities/citizen/079090000001", nil); resp.status != 404 {
			t.Fatalf("%s serves a record it may not read: %s", name, resp)
		}
	}
}
