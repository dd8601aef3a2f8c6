package replica

import (
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReaderLag is how far a reader is behind this node now, by what it
// acknowledged at its last pull: a reader that stops pulling falls further
// behind with every write.
type ReaderLag struct {
	Dataset string `json:"dataset"`
	Reader  string `json:"reader"`
	Ops     uint64 `json:"ops_behind"`
	// Seconds is the age now of the oldest op the reader lacks; 0 if it
	// lacks none.
	Seconds  float64   `json:"seconds_behind"`
	LastPull time.Time `json:"last_pull,omitzero"`
}

// Lag reports, for each dataset this node holds and each of its readers that
// pulled from this node since it started, what the reader lacks. Safe for
// concurrent use; it reads the store.
func (r *Replicator) Lag() []ReaderLag {
	v := r.cfg.Meta.View()
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return nil
	}
	r.mu.Lock()
	acked := maps.Clone(r.mu.acked)
	r.mu.Unlock()
	now := r.cfg.Now()
	var out []ReaderLag
	for _, ds := range v.Datasets() {
		for _, reader := range readersOf(ds) {
			a, ok := acked[reader]
			if !ok || reader == r.cfg.Self {
				continue
			}
			l := ReaderLag{Dataset: ds.Name, Reader: reader, LastPull: a.at}
			for _, st := range sortedStreams(heads) {
				h := heads[st]
				if st.Dataset != ds.Name || h.Seq <= a.seqs[st] {
					continue
				}
				l.Ops += h.Seq - a.seqs[st]
				if op, err := r.cfg.Store.Op(st.Dataset, st.Origin, a.seqs[st]+1); err == nil {
					l.Seconds = max(l.Seconds, now.Sub(time.UnixMilli(op.Time.WallMillis)).Seconds())
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// lagCollector computes the readers' lag when /metrics is scraped (it was
// set as a side effect of GET /v1/status, so an alert on it never fired).
type lagCollector struct{ r *Replicator }

var (
	descLagOps = prometheus.NewDesc("lienthong_replica_lag_ops",
		"Ops this node holds that a reader lacks, by what it acknowledged at its last pull, by dataset and reader.", []string{"dataset", "peer"}, nil)
	descLagSeconds = prometheus.NewDesc("lienthong_replica_lag_seconds",
		"Age of the oldest op a reader lacks (0 if none), by dataset and reader.", []string{"dataset", "peer"}, nil)
	descLastPull = prometheus.NewDesc("lienthong_replica_last_pull_seconds",
		"Seconds since each reader last pulled from this node (readers seen since it started).", []string{"peer"}, nil)
)

func (lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLagOps
	ch <- descLagSeconds
	ch <- descLastPull
}

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.r.cfg.Now()
	last := map[string]time.Time{}
	for _, l := range c.r.Lag() {
		ch <- prometheus.MustNewConstMetric(descLagOps, prometheus.GaugeValue, float64(l.Ops), l.Dataset, l.Reader)
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, l.Seconds, l.Dataset, l.Reader)
		last[l.Reader] = l.LastPull
	}
	for reader, at := range last {
		ch <- prometheus.MustNewConstMetric(descLastPull, prometheus.GaugeValue, now.Sub(at).Seconds(), reader)
	}
}
