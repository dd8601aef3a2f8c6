package cli_test

import "testing"

// The partition test's checker counts what it must: a reader behind on an
// acknowledged write, readers that disagree, a record at a non-reader; and
// accepts a later write that applied unacknowledged, and an epoch-2 write
// beating a later epoch-1 one.
func TestPartitionModelCheck(t *testing.T) {
	m := &model{}
	for _, w := range []modelWrite{
		{dataset: "d", key: "k1", value: "a", epoch: 1, outcome: acked},
		{dataset: "d", key: "k1", value: "b", epoch: 1, outcome: unknown},
		{dataset: "d", key: "k2", value: "c", epoch: 2, outcome: acked},
		{dataset: "d", key: "k2", value: "d", epoch: 1, outcome: acked},
		{dataset: "d", key: "k3", value: "e", epoch: 1, outcome: rejected},
	} {
		w.seq = m.next()
		m.record(w)
	}
	readers := map[string][]string{"d": {"r1", "r2"}}
	for _, tc := range []struct {
		name   string
		stores map[string]map[string]map[string]string
		want   figures
	}{
		{"converged", map[string]map[string]map[string]string{
			"r1": {"d": {"k1": "b", "k2": "c"}}, "r2": {"d": {"k1": "b", "k2": "c"}}, "x": {"d": {}},
		}, figures{acked: 3}},
		{"a reader behind, another missing a record", map[string]map[string]map[string]string{
			"r1": {"d": {"k1": "a", "k2": "d"}}, "r2": {"d": {"k1": "a"}},
		}, figures{acked: 3, lost: 2, divergent: 1}},
		{"divergent though each value is allowed", map[string]map[string]map[string]string{
			"r1": {"d": {"k1": "a", "k2": "c"}}, "r2": {"d": {"k1": "b", "k2": "c"}},
		}, figures{acked: 3, divergent: 1}},
		{"leaked", map[string]map[string]map[string]string{
			"r1": {"d": {"k1": "a", "k2": "c"}}, "r2": {"d": {"k1": "a", "k2": "c"}}, "x": {"d": {"k3": "e", "stream:o": ""}},
		}, figures{acked: 3, leaked: 2}},
	} {
		got := m.check(tc.stores, readers)
		if got.String() != tc.want.String() {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
