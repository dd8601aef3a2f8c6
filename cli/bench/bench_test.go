package bench

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkWrite measures what bench write measures, with b.N writes per
// measurement; compare the lienthong and pebble writes/s metrics of the same
// run, not absolute figures across machines.
func BenchmarkWrite(b *testing.B) {
	for _, w := range []int{1, 8, 64} {
		b.Run("writers="+strconv.Itoa(w), func(b *testing.B) {
			lt, err := benchWrite(context.Background(), b.TempDir(), w, max(b.N, w))
			if err != nil {
				b.Fatal(err)
			}
			pb, err := benchPebble(context.Background(), b.TempDir(), w, max(b.N, w))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(lt, "lienthong-writes/s")
			b.ReportMetric(pb, "pebble-writes/s")
			b.ReportMetric(lt/pb, "ratio")
		})
	}
}

// BenchmarkReplicate runs bench replicate's lienthong measurement once per
// b.N with 20,000 ops (for profiles: go test ./cli/bench/ -run '^$'
// -bench BenchReplicate -benchtime 1x -cpuprofile cpu.out). Compare the figures
// with bench replicate's reference, not across machines.
func BenchmarkReplicate(b *testing.B) {
	recs, err := benchRecords(20000)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		run, err := benchReplicateOnce(context.Background(), filepath.Join(b.TempDir(), "run"), recs, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(run.OpsPerS, "ops/s")
		b.ReportMetric(run.WriteOpsPerS, "acked-ops/s")
		b.ReportMetric(run.LagP50Ms, "lag-p50-ms")
		b.ReportMetric(run.LagP99Ms, "lag-p99-ms")
	}
}

func TestPeersCopyScript(t *testing.T) {
	got := string(peersCopyScript([]peersRecord{{key: "k1", doc: []byte(`{"a":"x\"y\\z"}`)}, {key: "k2", doc: []byte("{\"t\":\"\t\n\"}")}}))
	want := "COPY citizens (id, doc) FROM STDIN;\n" +
		"k1\t{\"a\":\"x\\\\\"y\\\\\\\\z\"}\n" +
		"k2\t{\"t\":\"\\t\\n\"}\n" +
		"\\.\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}
