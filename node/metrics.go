package node

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/member"
)

// nodeCollector reports, when scraped, what the node's parts know now: the
// build, the store (Pebble included), the metadata index and gossip's view
// of the members. Nothing here is updated as a side effect of other calls.
type nodeCollector struct{ n *Node }

var (
	descBuild = prometheus.NewDesc("lienthong_build_info",
		"Always 1; the labels name the build.", []string{"version", "go_version"}, nil)
	descChanges = prometheus.NewDesc("lienthong_storage_changes",
		"Durable entries in the change feed.", nil, nil)
	descCorrupt = prometheus.NewDesc("lienthong_storage_corrupt_reads_total",
		"Reads that met corrupt data on disk since the node started; status alarms say where.", nil, nil)
	descMetaIndex = prometheus.NewDesc("lienthong_meta_index",
		"Metadata index applied on this node.", nil, nil)
	descDisk = prometheus.NewDesc("lienthong_storage_disk_bytes",
		"Disk space the store's files take (tables, WAL, manifest).", nil, nil)
	descMemtable = prometheus.NewDesc("lienthong_storage_memtable_bytes",
		"Memory of the store's memtables.", nil, nil)
	descWAL = prometheus.NewDesc("lienthong_storage_wal_bytes",
		"Live bytes in the store's write-ahead log.", nil, nil)
	descL0 = prometheus.NewDesc("lienthong_storage_l0_files",
		"Tables in Pebble's level 0: many slow reads down, and writes stall past Pebble's threshold.", nil, nil)
	descReadAmp = prometheus.NewDesc("lienthong_storage_read_amplification",
		"Sorted runs a read may visit.", nil, nil)
	descCompactions = prometheus.NewDesc("lienthong_storage_compactions_total",
		"Compactions since the node started.", nil, nil)
	descFlushes = prometheus.NewDesc("lienthong_storage_flushes_total",
		"Memtable flushes since the node started.", nil, nil)
	descDebt = prometheus.NewDesc("lienthong_storage_compaction_debt_bytes",
		"Bytes compactions must still rewrite; growing without end means the disk cannot keep up.", nil, nil)
	descStalls = prometheus.NewDesc("lienthong_storage_write_stalls_total",
		"Times Pebble stopped writes because flushes or compactions fell behind.", nil, nil)
	descStallSecs = prometheus.NewDesc("lienthong_storage_write_stall_seconds_total",
		"Seconds writes spent stalled, the current stall included.", nil, nil)
	descGossip = prometheus.NewDesc("lienthong_gossip_members",
		"Members as this node's gossip sees them (itself included), by state; absent on a node without gossip.", []string{"state"}, nil)
)

func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuild, descChanges, descCorrupt, descMetaIndex, descDisk, descMemtable, descWAL,
		descL0, descReadAmp, descCompactions, descFlushes, descDebt, descStalls, descStallSecs, descGossip} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	st := c.n.store
	gauge(descBuild, 1, Version, runtime.Version())
	gauge(descChanges, float64(st.Durable()))
	counter(descCorrupt, float64(st.Corruptions()))
	gauge(descMetaIndex, float64(c.n.meta.View().Index))
	s := st.Stats()
	gauge(descDisk, float64(s.DiskBytes))
	gauge(descMemtable, float64(s.MemtableBytes))
	gauge(descWAL, float64(s.WALBytes))
	gauge(descL0, float64(s.L0Files))
	gauge(descReadAmp, float64(s.ReadAmp))
	counter(descCompactions, float64(s.Compactions))
	counter(descFlushes, float64(s.Flushes))
	gauge(descDebt, float64(s.CompactionDebtBytes))
	counter(descStalls, float64(s.WriteStalls))
	counter(descStallSecs, s.WriteStallSeconds)
	if c.n.fed == nil {
		return
	}
	if peers := c.n.fed.peers(); peers != nil {
		count := map[member.State]int{}
		for _, p := range peers {
			count[p.State]++
		}
		for _, state := range []member.State{member.StateAlive, member.StateSuspect, member.StateDead, member.StateLeft} {
			gauge(descGossip, float64(count[state]), string(state))
		}
	}
}
