package storage

import (
	"sync/atomic"
	"time"
)

// Stats are the store's Pebble figures for metrics, read when asked.
type Stats struct {
	// DiskBytes is the space the store's files take (tables, WAL, manifest).
	DiskBytes uint64
	// MemtableBytes is the memory of the memtables; WALBytes the live WAL.
	MemtableBytes, WALBytes uint64
	// L0Files is the number of tables in level 0 (many: reads slow down and
	// writes will stall); ReadAmp the number of sorted runs a read may visit.
	L0Files int64
	ReadAmp int
	// Compactions and Flushes count since open; CompactionDebtBytes is the
	// bytes compactions must still rewrite to reach a stable shape.
	Compactions, Flushes int64
	CompactionDebtBytes  uint64
	// WriteStalls count the times Pebble stopped writes because flushes or
	// compactions fell behind, since open, and how long they lasted in all.
	WriteStalls       uint64
	WriteStallSeconds float64
}

// stalls counts Pebble's write stalls, from its event listener.
type stalls struct {
	count      atomic.Uint64
	totalNanos atomic.Int64
	began      atomic.Int64 // Unix nanoseconds of the running stall's start; 0 if none
}

func (st *stalls) begin() {
	st.count.Add(1)
	st.began.Store(time.Now().UnixNano())
}

func (st *stalls) end() {
	if b := st.began.Swap(0); b != 0 {
		st.totalNanos.Add(time.Now().UnixNano() - b)
	}
}

// seconds is the time spent stalled, the running stall included.
func (st *stalls) seconds() float64 {
	total := st.totalNanos.Load()
	if b := st.began.Load(); b != 0 {
		total += time.Now().UnixNano() - b
	}
	return time.Duration(total).Seconds()
}

// Stats returns the store's figures now; zero once the store is closed.
// Safe for concurrent use.
func (s *Store) Stats() Stats {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return Stats{}
	}
	m := s.db.Metrics()
	return Stats{
		DiskBytes: m.DiskSpaceUsage(), MemtableBytes: m.MemTable.Size, WALBytes: m.WAL.Size,
		L0Files: m.Levels[0].TablesCount, ReadAmp: m.ReadAmp(),
		Compactions: m.Compact.Count, Flushes: m.Flush.Count, CompactionDebtBytes: m.Compact.EstimatedDebt,
		WriteStalls: s.stalls.count.Load(), WriteStallSeconds: s.stalls.seconds(),
	}
}
