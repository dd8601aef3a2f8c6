package cli_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestQuorumLossRecovery is the runbook of docs/operations.md, "Quorum
// loss", with real processes: two of three seeds are lost for good, the
// metadata is read-only (no_quorum), the survivor is restarted once with
// --recover-seeds naming itself, and from then on it commits alone; the
// member follows, and the lost seeds are removed from the member list.
func TestQuorumLossRecovery(t *testing.T) {
	c := newFedCluster(t, []string{"s1", "s2", "s3"}, []string{"hcm"})
	c.waitFor(30*time.Second, "three voters", func() (bool, string) {
		st, err := c.meta("s1", false)
		if err != nil || st.Control == nil {
			return false, fmt.Sprint(err)
		}
		return len(st.Control.Voters) == 3, fmt.Sprint(st.Control.Voters)
	})
	c.kill("s2")
	c.kill("s3")
	r, err := c.call("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"))
	if err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("a metadata write with two of three seeds gone: %v %s; want 503 no_quorum", err, r)
	}
	if r := run(t, nil, "start", "--dir", c.node("hcm").dir, "--recover-seeds", "hcm"); r.code != 2 {
		t.Fatalf("--recover-seeds on a member: exit %d %s", r.code, r.stderr)
	}
	c.kill("s1")
	c.start("s1", "--recover-seeds", "s1")
	var idx uint64
	c.waitFor(30*time.Second, "a metadata write at s1 after the recovery", func() (bool, string) {
		r, err := c.call("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"))
		if err != nil || r.status != http.StatusCreated && r.status != http.StatusOK {
			return false, fmt.Sprint(err, r)
		}
		idx = metaIndexOf(t, r)
		return true, ""
	})
	c.waitFor(30*time.Second, "hcm applies the change", func() (bool, string) {
		st, err := c.meta("hcm", false)
		return err == nil && st.MetaIndex >= idx, fmt.Sprint(st.MetaIndex, err)
	})
	for _, lost := range []string{"s2", "s3"} {
		c.mustCall("s1", "DELETE", "/v1/members/"+lost, nil, http.StatusOK)
	}
	c.waitFor(30*time.Second, "s1 the only voter, the lost seeds gone", func() (bool, string) {
		st, err := c.meta("s1", false)
		if err != nil || st.Control == nil {
			return false, fmt.Sprint(err)
		}
		var names []string
		for _, m := range st.Members {
			names = append(names, m.Name)
		}
		return slices.Equal(st.Control.Voters, []string{"s1"}) && !slices.Contains(names, "s2") && !slices.Contains(names, "s3"),
			fmt.Sprintf("voters %v, members %v", st.Control.Voters, names)
	})
}
