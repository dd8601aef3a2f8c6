package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/sim/gen"
	"github.com/lienthong/lienthong/storage"
)

// benchDataset is the dataset bench writes: the sample population.identity,
// owned by the bench's own member.
const (
	benchDataset = "population.identity"
	benchMember  = "bench"
)

// WriteRow is one number of writers of bench write.
type WriteRow struct {
	Writers   int       `json:"writers"`
	Lienthong []float64 `json:"lienthong_writes_per_s"` // one per run
	Pebble    []float64 `json:"pebble_writes_per_s"`
	LtMedian  float64   `json:"lienthong_median"`
	PbMedian  float64   `json:"pebble_median"`
	Ratio     float64   `json:"ratio"` // LtMedian / PbMedian
}

// WriteOptions are what bench write measures.
type WriteOptions struct {
	// Dir is a directory on the disk to measure; empty is a temporary
	// directory, removed after.
	Dir string
	// Count is the writes per run, shared by the writers.
	Count int
	// Writers are the numbers of concurrent writers, one row each.
	Writers []int
	// Runs is the runs per figure.
	Runs int
}

// WriteResult is what bench write measured (its --json output).
type WriteResult struct {
	Count   int        `json:"count"`
	Dir     string     `json:"dir"`
	Results []WriteRow `json:"results"`
	Runs    int        `json:"runs"`
}

// Write measures single-record synced writes per second through the
// engine, next to raw Pebble, for each number of writers in o.Writers; its
// progress goes to progress. It blocks for the whole measurement.
func Write(ctx context.Context, o WriteOptions, progress io.Writer) (*WriteResult, error) {
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "lienthong-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	recs, err := benchRecords(o.Count)
	if err != nil {
		return nil, err
	}

	rows := make([]WriteRow, 0, len(o.Writers))
	for _, w := range o.Writers {
		row := WriteRow{Writers: w}
		for r := 1; r <= o.Runs; r++ {
			fmt.Fprintf(progress, "writers %d, run %d/%d...\n", w, r, o.Runs)
			// Fresh directories each run, so that every run writes new keys
			// into an empty database on both sides.
			sub := fmt.Sprintf("w%d-r%d", w, r)
			lt, err := benchWriteRecords(ctx, filepath.Join(dir, "lt-"+sub), w, recs)
			if err != nil {
				return nil, err
			}
			pb, err := benchPebbleRecords(ctx, filepath.Join(dir, "pebble-"+sub), w, recs)
			if err != nil {
				return nil, err
			}
			row.Lienthong = append(row.Lienthong, lt)
			row.Pebble = append(row.Pebble, pb)
		}
		row.LtMedian, row.PbMedian = benchMedian(row.Lienthong), benchMedian(row.Pebble)
		if row.PbMedian > 0 {
			row.Ratio = row.LtMedian / row.PbMedian
		}
		rows = append(rows, row)
	}
	return &WriteResult{Count: o.Count, Runs: o.Runs, Dir: dir, Results: rows}, nil
}

// Print writes the result as bench write's table.
func (r *WriteResult) Print(w io.Writer) error {
	fmt.Fprintf(w, "%d single-record synced writes per run, median of %d runs (min–max), in %s\n", r.Count, r.Runs, r.Dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "writers\tlienthong writes/s\t(min–max)\traw pebble writes/s\t(min–max)\tratio\t")
	for _, r := range r.Results {
		fmt.Fprintf(tw, "%d\t%.0f\t(%.0f–%.0f)\t%.0f\t(%.0f–%.0f)\t%.2f\t\n", r.Writers,
			r.LtMedian, slices.Min(r.Lienthong), slices.Max(r.Lienthong),
			r.PbMedian, slices.Min(r.Pebble), slices.Max(r.Pebble), r.Ratio)
	}
	return tw.Flush()
}

func benchMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchRecord is one write of the bench: a citizen projected to the
// dataset's fields, and the same record's JSON as raw Pebble's value.
type benchRecord struct {
	key    string
	fields map[string]json.RawMessage
	value  []byte
}

// benchSchema returns the sample citizen type and the bench's dataset.
func benchSchema() (*dict.EntityType, *dict.Dataset, error) {
	types, err := examples.EntityTypes()
	if err != nil {
		return nil, nil, err
	}
	dss, err := examples.Datasets()
	if err != nil {
		return nil, nil, err
	}
	var typ *dict.EntityType
	for _, t := range types {
		if t.Name == gen.KindCitizen {
			typ = t
		}
	}
	var ds *dict.Dataset
	for _, d := range dss {
		if d.Name == benchDataset {
			ds = d
		}
	}
	if typ == nil || ds == nil {
		return nil, nil, errors.New("bench: the sample dictionary lacks the citizen type or " + benchDataset)
	}
	ds.Owner, ds.OwnerEpoch, ds.Readers = benchMember, 0, nil
	return typ, ds, nil
}

// benchCitizens calls fn with the first n citizens of seed 1, projected to
// the bench dataset's fields: the records every benchmark writes.
func benchCitizens(n int, fn func(i int, r gen.Record) error) error {
	_, ds, err := benchSchema()
	if err != nil {
		return err
	}
	g, err := gen.New(gen.KindCitizen, 1)
	if err != nil {
		return err
	}
	for i := range n {
		r := g.Next()
		r.Fields = slices.DeleteFunc(r.Fields, func(f gen.Field) bool { return !ds.Covers(f.Name) })
		if err := fn(i, r); err != nil {
			return err
		}
	}
	return nil
}

// benchRecords returns benchCitizens(n) with their fields decoded, as the
// engine takes them.
func benchRecords(n int) ([]benchRecord, error) {
	out := make([]benchRecord, n)
	err := benchCitizens(n, func(i int, r gen.Record) error {
		line := r.AppendJSON(nil)
		var rec struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("bench: generated record %d: %w", i, err)
		}
		out[i] = benchRecord{key: r.Key, fields: rec.Fields, value: line}
		return nil
	})
	return out, err
}

// benchWrite measures lienthong's single-record writes per second: it
// creates a node store in dir (which must not hold one), and writers
// goroutines share n Engine.Write calls, each a Put of one citizen with its
// own key, synced before it returns. Setup is not timed. Usable from a Go
// benchmark.
func benchWrite(ctx context.Context, dir string, writers, n int) (float64, error) {
	recs, err := benchRecords(n)
	if err != nil {
		return 0, err
	}
	return benchWriteRecords(ctx, dir, writers, recs)
}

// benchPebble is the reference for benchWrite: the same writers commit
// one-key batches with pebble.Sync into a fresh raw Pebble in dir, the key
// the record's key and the value its JSON.
func benchPebble(ctx context.Context, dir string, writers, n int) (float64, error) {
	recs, err := benchRecords(n)
	if err != nil {
		return 0, err
	}
	return benchPebbleRecords(ctx, dir, writers, recs)
}

func benchWriteRecords(ctx context.Context, dir string, writers int, recs []benchRecord) (wps float64, err error) {
	typ, ds, err := benchSchema()
	if err != nil {
		return 0, err
	}
	st, err := storage.Open(storage.Options{Dir: dir})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	m, err := meta.OpenLocal(ctx, st, meta.Member{Name: benchMember, Role: "seed", PeerID: benchMember})
	if err != nil {
		return 0, err
	}
	if _, err := m.PutType(ctx, typ); err != nil {
		return 0, err
	}
	if _, err := m.PutDataset(ctx, ds); err != nil {
		return 0, err
	}
	eng, err := data.New(data.Config{Self: benchMember, Store: st, Meta: m, NowMillis: func() int64 { return time.Now().UnixMilli() }})
	if err != nil {
		return 0, err
	}
	return runWriters(writers, len(recs), func(i int) error {
		_, err := eng.Write(ctx, data.Write{Dataset: benchDataset, Key: recs[i].key, Mode: data.Put, Fields: recs[i].fields, WantCreated: true})
		return err
	})
}

func benchPebbleRecords(ctx context.Context, dir string, writers int, recs []benchRecord) (wps float64, err error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebbleLogger{}})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	return runWriters(writers, len(recs), func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := db.NewBatch()
		defer b.Close()
		if err := b.Set([]byte(recs[i].key), recs[i].value, nil); err != nil {
			return err
		}
		return b.Commit(pebble.Sync)
	})
}

// runWriters runs write(i) for i in [0,n) on writers goroutines and returns
// the calls per second. It stops at the first error.
func runWriters(writers, n int, write func(i int) error) (float64, error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := write(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n) / el.Seconds(), nil
}

// quietPebbleLogger drops Pebble's informational messages, which would mix
// with the bench's output, and keeps its errors.
type quietPebbleLogger struct{}

func (quietPebbleLogger) Infof(string, ...any) {}
func (quietPebbleLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietPebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
