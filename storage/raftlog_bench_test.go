package storage

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// BenchmarkRaftStoreLogs measures raft's append path on disk: StoreLogs of
// 64 entries of 200 bytes, one synced write each, as a leader does per batch.
func BenchmarkRaftStoreLogs(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := NewRaftStore(s)
	const per = 64
	data := make([]byte, 200)
	logs := make([]*raft.Log, per)
	for i := range logs {
		logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
	}
	next := uint64(1)
	b.ResetTimer()
	for b.Loop() {
		for _, l := range logs {
			l.Index = next
			next++
		}
		if err := r.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkRaftDeleteRange compares a range tombstone with point deletes for
// raft's head compaction (DefaultConfig: a snapshot every 8192 entries,
// keeping 10240), and the cost of reading the new first entry afterwards.
func BenchmarkRaftDeleteRange(b *testing.B) {
	for _, n := range []uint64{1024, 8192} {
		for _, point := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/pointdeletes=%v", n, point), func(b *testing.B) {
				defer func(old bool) { raftPointDeletes = old }(raftPointDeletes)
				raftPointDeletes = point
				s, err := Open(Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				r := NewRaftStore(s)
				data := make([]byte, 200)
				next := uint64(1)
				fill := func(count uint64) {
					for count > 0 {
						k := min(count, 512)
						logs := make([]*raft.Log, k)
						for i := range logs {
							logs[i] = &raft.Log{Index: next, Term: 1, Data: data}
							next++
						}
						if err := r.StoreLogs(logs); err != nil {
							b.Fatal(err)
						}
						count -= k
					}
				}
				fill(n)
				var deleting, seeking time.Duration
				for b.Loop() {
					b.StopTimer()
					fill(n)
					first, _ := r.FirstIndex()
					b.StartTimer()
					t0 := time.Now()
					if err := r.DeleteRange(first, first+n-1); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					// What a restart pays: find the first key over the tombstones.
					if _, err := NewRaftStore(s).FirstIndex(); err != nil {
						b.Fatal(err)
					}
					deleting += t1.Sub(t0)
					seeking += time.Since(t1)
				}
				b.ReportMetric(float64(deleting.Microseconds())/float64(b.N), "us/delete")
				b.ReportMetric(float64(seeking.Microseconds())/float64(b.N), "us/firstindex-reload")
			})
		}
	}
}
