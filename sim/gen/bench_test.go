package gen

import (
	"io"
	"testing"
)

func benchmarkKind(b *testing.B, kind string) {
	g, err := New(kind, 1)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	total := 0
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Next().AppendJSON(buf[:0])
		total += len(buf) + 1 // with the newline Write adds
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(total)/float64(b.N), "bytes/record")
}

// BenchmarkCitizen measures Next + AppendJSON of citizens on one goroutine.
func BenchmarkCitizen(b *testing.B)    { benchmarkKind(b, KindCitizen) }
func BenchmarkBusiness(b *testing.B)   { benchmarkKind(b, KindBusiness) }
func BenchmarkLandParcel(b *testing.B) { benchmarkKind(b, KindLandParcel) }

// BenchmarkWriteCitizens measures Write end to end, to io.Discard.
func BenchmarkWriteCitizens(b *testing.B) {
	const n = 10_000
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, KindCitizen, 1, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
