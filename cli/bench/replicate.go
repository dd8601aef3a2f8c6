package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/transport"
)

// Shape of bench replicate's write load and of its raw libp2p reference.
const (
	replWriterName  = "writer"
	replReaderName  = "reader"
	replBatch       = 500 // writes per WriteBatch
	replWriters     = 4   // goroutines calling WriteBatch
	replPoll        = time.Millisecond
	replTick        = time.Millisecond // how often a paced load hands out the ops due
	replStall       = 60 * time.Second // no progress at the reader for this long fails the run
	rawBytes        = 256 << 20
	rawChunk        = 64 << 10
	rawProtocol     = "/lienthong/bench/raw/1.0.0"
	replSetupBudget = 60 * time.Second
)

// ReplRun is one run of bench replicate: the lienthong figures and the raw
// libp2p reference measured right after it.
type ReplRun struct {
	// OpsPerS is count / (time from the first write to the reader holding
	// op count).
	OpsPerS float64 `json:"lienthong_ops_per_s"`
	// WriteOpsPerS is count / (time from the first write to the last
	// acknowledgement at the writer): the rate the writer took the load at
	// (at full blast, as fast as it could; paced, about OfferedOpsPerS).
	WriteOpsPerS float64 `json:"writer_acked_ops_per_s"`
	// OfferedOpsPerS is the rate the writes were paced at; 0 when they were
	// written as fast as the writer took them.
	OfferedOpsPerS float64 `json:"offered_ops_per_s,omitempty"`
	LagP50Ms       float64 `json:"lag_p50_ms"`
	LagP99Ms       float64 `json:"lag_p99_ms"`
	LagMaxMs       float64 `json:"lag_max_ms"`
	ElapsedS       float64 `json:"elapsed_s"`
	// Polls is how many times the reader's status was read.
	Polls int `json:"polls"`
	// WireBytes and DecodedBytes are the reader's sync answer and pushed batch bytes,
	// zstd on the wire and decoded (lienthong_replica_bytes_total); -1 when
	// the metrics could not be read.
	WireBytes    float64 `json:"wire_bytes"`
	DecodedBytes float64 `json:"decoded_bytes"`
	// RawMBPerS is one libp2p stream's throughput between two fresh hosts
	// on loopback (MB = 10^6 bytes); RawOpsPerS the same divided by the
	// average encoded op size.
	RawMBPerS  float64 `json:"raw_libp2p_mb_per_s"`
	RawOpsPerS float64 `json:"raw_libp2p_ops_per_s"`
}

// ReplFigure is one row of the table: lienthong's figure next to its
// reference, each the median of the runs.
type ReplFigure struct {
	Name      string    `json:"figure"`
	Lienthong []float64 `json:"lienthong"`
	Reference []float64 `json:"reference,omitempty"`
	LtMedian  float64   `json:"lienthong_median"`
	RefMedian float64   `json:"reference_median,omitempty"`
	Ratio     float64   `json:"ratio,omitempty"` // LtMedian / RefMedian
}

// ReplicateResult is what bench replicate measured (its --json output).
type ReplicateResult struct {
	Batch    int          `json:"batch"`
	Count    int          `json:"count"`
	Figures  []ReplFigure `json:"figures"`
	OpBytes  float64      `json:"op_bytes"`
	RawBytes int          `json:"raw_bytes"`
	RawChunk int          `json:"raw_chunk"`
	Results  []ReplRun    `json:"results"`
	Runs     int          `json:"runs"`
	Writers  int          `json:"writers"`
}

// Replicate measures, runs times, count ops written at one node reaching
// another on loopback, each run next to a raw libp2p stream between two
// fresh hosts; its progress goes to progress.
func Replicate(ctx context.Context, count, runs int, progress io.Writer) (*ReplicateResult, error) {
	recs, err := benchRecords(count)
	if err != nil {
		return nil, err
	}
	opBytes, err := replOpBytes(recs)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "lienthong-bench-replicate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var all []ReplRun
	for r := 1; r <= runs; r++ {
		fmt.Fprintf(progress, "run %d/%d: %d ops from %s to %s...\n", r, runs, count, replWriterName, replReaderName)
		run, err := benchReplicateOnce(ctx, filepath.Join(tmp, "r"+strconv.Itoa(r)), recs, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "run %d/%d: raw libp2p stream, %d MiB...\n", r, runs, rawBytes>>20)
		mbps, err := benchRawLibp2p(ctx, rawBytes, rawChunk)
		if err != nil {
			return nil, err
		}
		run.RawMBPerS, run.RawOpsPerS = mbps, mbps*1e6/opBytes
		all = append(all, run)
	}

	col := func(f func(ReplRun) float64) []float64 {
		out := make([]float64, len(all))
		for i, r := range all {
			out[i] = f(r)
		}
		return out
	}
	figs := []ReplFigure{
		{Name: "ops/s at the reader", Lienthong: col(func(r ReplRun) float64 { return r.OpsPerS }),
			Reference: col(func(r ReplRun) float64 { return r.RawOpsPerS })},
		{Name: "MB/s of encoded ops", Lienthong: col(func(r ReplRun) float64 { return r.OpsPerS * opBytes / 1e6 }),
			Reference: col(func(r ReplRun) float64 { return r.RawMBPerS })},
		{Name: "lag p50 (ms)", Lienthong: col(func(r ReplRun) float64 { return r.LagP50Ms })},
		{Name: "lag p99 (ms)", Lienthong: col(func(r ReplRun) float64 { return r.LagP99Ms })},
	}
	for i := range figs {
		f := &figs[i]
		f.LtMedian = benchMedian(f.Lienthong)
		if len(f.Reference) > 0 {
			f.RefMedian = benchMedian(f.Reference)
			if f.RefMedian > 0 {
				f.Ratio = f.LtMedian / f.RefMedian
			}
		}
	}
	return &ReplicateResult{Count: count, Runs: runs, Batch: replBatch, Writers: replWriters,
		OpBytes: opBytes, RawBytes: rawBytes, RawChunk: rawChunk, Figures: figs, Results: all}, nil
}

// Print writes the result as bench replicate's table.
func (r *ReplicateResult) Print(w io.Writer) error {
	count, runs, opBytes := r.Count, r.Runs, r.OpBytes
	var wires, decodeds []float64
	for _, x := range r.Results {
		wires, decodeds = append(wires, x.WireBytes), append(decodeds, x.DecodedBytes)
	}
	wire, decoded := benchMedian(wires), benchMedian(decodeds)
	fmt.Fprintf(w, "%d citizens (%s) replicated from %s to %s over libp2p on loopback, written in batches of %d by %d goroutines;\n",
		count, benchDataset, replWriterName, replReaderName, replBatch, replWriters)
	fmt.Fprintf(w, "reference: one raw libp2p stream (TCP, Noise, yamux), %d MiB in %d KiB chunks; ops/s = MB/s ÷ %.0f B per encoded op.\n",
		rawBytes>>20, rawChunk>>10, opBytes)
	if wire > 0 && decoded > 0 {
		fmt.Fprintf(w, "on the wire: %.0f B/op decoded, %.0f B/op zstd (ratio %.1f). Median of %d runs (min–max).\n",
			decoded/float64(count), wire/float64(count), decoded/wire, runs)
	} else {
		fmt.Fprintf(w, "Median of %d runs (min–max).\n", runs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tlienthong\t(min–max)\traw libp2p\t(min–max)\tratio\t")
	for _, f := range r.Figures {
		prec := 0
		if f.LtMedian < 100 {
			prec = 1
		}
		lt := fmt.Sprintf("%.*f\t(%.*f–%.*f)", prec, f.LtMedian, prec, slices.Min(f.Lienthong), prec, slices.Max(f.Lienthong))
		ref, ratio := "–\t", "–"
		if len(f.Reference) > 0 {
			rp := 0
			if f.RefMedian < 100 {
				rp = 1
			}
			ref = fmt.Sprintf("%.*f\t(%.*f–%.*f)", rp, f.RefMedian, rp, slices.Min(f.Reference), rp, slices.Max(f.Reference))
			ratio = fmt.Sprintf("%.3f", f.Ratio)
			if f.Ratio < 0.1 {
				ratio = fmt.Sprintf("%.4f", f.Ratio)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", f.Name, lt, ref, ratio)
	}
	return tw.Flush()
}

// replOpBytes estimates the average size of the ops the writer logs for
// recs: each record encoded with crdt.AppendOp as the engine builds a Put
// of it into an empty entity (registers as given, sets as the sorted unique
// elements added, nulls and empty sets leaving nothing), chained, stamped
// with the current time.
func replOpBytes(recs []benchRecord) (float64, error) {
	typ, ds, err := benchSchema()
	if err != nil {
		return 0, err
	}
	var (
		prev  [32]byte
		total int
		enc   []byte
	)
	now := time.Now().UnixMilli()
	for i, r := range recs {
		op := &crdt.Op{Dataset: ds.Name, Origin: replWriterName, Seq: uint64(i + 1), Prev: prev,
			Epoch: 1, MetaIndex: 10, Time: crdt.Timestamp{WallMillis: now}, Type: typ.Name, Key: r.key}
		names := make([]string, 0, len(r.fields))
		for name := range r.fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			raw := r.fields[name]
			if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				continue
			}
			switch typ.Fields[name].Type {
			case dict.Set:
				var els []string
				if err := json.Unmarshal(raw, &els); err != nil {
					return 0, fmt.Errorf("bench: record %s field %s: %w", r.key, name, err)
				}
				slices.Sort(els)
				if els = slices.Compact(els); len(els) > 0 {
					op.Fields = append(op.Fields, crdt.FieldOp{Name: name, Kind: crdt.Set, Add: els})
				}
			case dict.Counter:
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
				if n > 0 {
					op.Fields = append(op.Fields, crdt.FieldOp{Name: name, Kind: crdt.Counter,
						Counts: []crdt.Count{{Origin: replWriterName, P: uint64(n)}}})
				}
			default:
				op.Fields = append(op.Fields, crdt.FieldOp{Name: name, Kind: crdt.Register, Value: raw})
			}
		}
		enc = crdt.AppendOp(enc[:0], op)
		total += len(enc)
		prev = sha256.Sum256(enc)
	}
	return float64(total) / float64(len(recs)), nil
}

// replFed is the two-node federation of one run.
type replFed struct {
	writer, reader *node.Node
	readerToken    string // admin token of the reader's API, for /metrics
}

func (f *replFed) close() error {
	var errs []error
	for _, n := range []*node.Node{f.reader, f.writer} {
		if n != nil {
			errs = append(errs, n.Close())
		}
	}
	return errors.Join(errs...)
}

// startReplFed starts, in this process and under dir, a bootstrap seed
// named writer and a member named reader admitted by it and joined through
// it, as node/fed_test.go does; it returns once each sees both members.
func startReplFed(ctx context.Context, dir string) (_ *replFed, err error) {
	f := &replFed{}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.close())
		}
	}()
	mk := func(name, role string) (node.Config, *node.InitResult, error) {
		cfg := node.DefaultConfig(name)
		cfg.Role = role
		cfg.API.Listen = "127.0.0.1:0"
		cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Gossip.Listen = "127.0.0.1:0"
		d := filepath.Join(dir, name)
		res, err := node.Init(d, cfg)
		if err != nil {
			return cfg, nil, err
		}
		cfg, err = node.LoadConfig(d)
		return cfg, res, err
	}

	wcfg, _, err := mk(replWriterName, "seed")
	if err != nil {
		return nil, err
	}
	if f.writer, err = node.New(wcfg, node.Options{Bootstrap: true, FastTimers: true}); err != nil {
		return nil, err
	}
	// The seed admits itself with its listen addresses: join through those.
	var seed *meta.Member
	if err := replWait(ctx, "the seed admits itself", func() bool {
		seed = f.writer.Meta().View().Member(replWriterName)
		return seed != nil && len(seed.Addrs) > 0
	}); err != nil {
		return nil, err
	}
	join := seed.Addrs[0] + "/p2p/" + f.writer.PeerID()

	rcfg, rres, err := mk(replReaderName, "member")
	if err != nil {
		return nil, err
	}
	f.readerToken = rres.AdminToken
	if _, err := f.writer.Meta().Propose(ctx, meta.Command{Op: meta.OpPutMember,
		Member: &meta.Member{Name: replReaderName, Role: "member", PeerID: rres.PeerID}}); err != nil {
		return nil, fmt.Errorf("bench: admit the reader: %w", err)
	}
	if f.reader, err = node.New(rcfg, node.Options{Join: []string{join}, FastTimers: true}); err != nil {
		return nil, err
	}
	for _, n := range []*node.Node{f.writer, f.reader} {
		if err := replWait(ctx, "every node sees both members", func() bool { return len(n.Meta().View().Members()) == 2 }); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// replWait polls cond until it holds, ctx ends or replSetupBudget passes.
func replWait(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(replSetupBudget)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out after %v waiting until %s", replSetupBudget, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// setupReplDataset puts the citizen type and population.identity, owned by
// the writer and read by the reader, and waits until the federation is
// settled: the reader has the writer's metadata (so that no op waits for
// metadata), published its addresses, and the two are connected.
func (f *replFed) setupDataset(ctx context.Context) error {
	typ, ds, err := benchSchema()
	if err != nil {
		return err
	}
	ds.Owner, ds.Readers = replWriterName, []string{replReaderName}
	for _, c := range []meta.Command{{Op: meta.OpPutType, Type: typ}, {Op: meta.OpPutDataset, Dataset: ds}} {
		if _, err := f.writer.Meta().Propose(ctx, c); err != nil {
			return fmt.Errorf("bench: %s: %w", c.Op, err)
		}
	}
	return replWait(ctx, "the reader has the dataset and is connected", func() bool {
		wv, rv := f.writer.Meta().View(), f.reader.Meta().View()
		m := wv.Member(replReaderName)
		if rv.Index < wv.Index || rv.Dataset(benchDataset) == nil || m == nil || len(m.Addrs) == 0 || len(wv.Settings.GossipKeys) == 0 {
			return false
		}
		return f.readerConnected()
	})
}

// readerConnected reports whether the writer sees the reader connected.
func (f *replFed) readerConnected() bool {
	for _, p := range f.writer.Status().Peers {
		if p.Name == replReaderName && p.Connected {
			return true
		}
	}
	return false
}

// readerSeq returns the reader's head of the writer's stream of the bench
// dataset, and its change feed position, through Status.
func readerSeq(n *node.Node) (seq, changes uint64) {
	s := n.Status()
	for _, d := range s.Datasets {
		if d.Name != benchDataset {
			continue
		}
		for _, st := range d.Streams {
			if st.Origin == replWriterName {
				seq = st.Seq
			}
		}
	}
	return seq, s.Changes
}

type replObs struct {
	at  time.Time
	seq uint64
}

// benchReplicateOnce starts a fresh federation in dir, writes recs at the
// writer, as fast as it takes them (rate 0) or paced at rate ops/s (see
// replFeed), and measures their arrival at the reader. It removes nothing:
// the caller owns dir.
func benchReplicateOnce(ctx context.Context, dir string, recs []benchRecord, rate float64) (run ReplRun, err error) {
	f, err := startReplFed(ctx, dir)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, f.close()) }()
	if err := f.setupDataset(ctx); err != nil {
		return run, err
	}
	n := uint64(len(recs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The reader's arrivals: woken by its change feed (every applied batch
	// is a change, durable once synced) and at least every replPoll, it
	// reads its head as applied.
	var (
		obs     []replObs
		polls   int
		obsErr  error
		obsDone = make(chan struct{})
	)
	go func() {
		defer close(obsDone)
		var since uint64
		last, lastProgress := uint64(0), time.Now()
		for {
			wctx, wcancel := context.WithTimeout(ctx, replPoll)
			f.reader.Engine().WaitChanges(wctx, since)
			wcancel()
			if ctx.Err() != nil {
				obsErr = ctx.Err()
				return
			}
			seq, changes := readerSeq(f.reader)
			now := time.Now()
			polls++
			since = changes
			if seq > last {
				obs = append(obs, replObs{now, seq})
				last, lastProgress = seq, now
			}
			if seq >= n {
				return
			}
			if now.Sub(lastProgress) > replStall {
				obsErr = fmt.Errorf("bench: the reader stalled at op %d of %d for %v", last, n, replStall)
				return
			}
		}
	}()

	// The writer: replWriters goroutines take the batches replFeed hands
	// out; every op's acknowledgement time is recorded by its stream seq.
	acked := make([]time.Time, n+1)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		writeErr error
		lastAck  atomic.Int64
	)
	batches := make(chan [2]int)
	start := time.Now()
	go replFeed(ctx, start, len(recs), rate, batches)
	for range replWriters {
		wg.Go(func() {
			ws := make([]data.Write, 0, replBatch)
			for b := range batches {
				ws = ws[:0]
				for _, r := range recs[b[0]:b[1]] {
					ws = append(ws, data.Write{Dataset: benchDataset, Key: r.key, Mode: data.Put, Fields: r.fields})
				}
				res, _, err := f.writer.Engine().WriteBatch(ctx, ws, false)
				now := time.Now()
				if err != nil {
					errOnce.Do(func() { writeErr = err; cancel() })
					return
				}
				for _, r := range res {
					if r.Seq >= 1 && r.Seq <= n {
						acked[r.Seq] = now
					}
				}
				for {
					l := lastAck.Load()
					if now.UnixNano() <= l || lastAck.CompareAndSwap(l, now.UnixNano()) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if writeErr != nil {
		cancel()
		<-obsDone
		return run, fmt.Errorf("bench: write at the writer: %w", writeErr)
	}
	<-obsDone
	if obsErr != nil {
		return run, obsErr
	}
	end := obs[len(obs)-1].at
	run.ElapsedS = end.Sub(start).Seconds()
	run.OpsPerS = float64(n) / run.ElapsedS
	run.WriteOpsPerS = float64(n) / time.Unix(0, lastAck.Load()).Sub(start).Seconds()
	run.Polls = polls
	run.OfferedOpsPerS = rate

	// Lag of op k: from its acknowledgement at the writer to the first
	// observation of the reader's head at k or beyond. The reader may pull
	// an op before the writer's goroutine takes the time of its ack: that
	// counts as no lag.
	lags := make([]float64, 0, n)
	j := 0
	for k := uint64(1); k <= n; k++ {
		for obs[j].seq < k {
			j++
		}
		if acked[k].IsZero() {
			return run, fmt.Errorf("bench: op %d was never acknowledged", k)
		}
		lags = append(lags, max(0, obs[j].at.Sub(acked[k]).Seconds()*1000))
	}
	slices.Sort(lags)
	run.LagP50Ms, run.LagP99Ms, run.LagMaxMs = percentile(lags, 0.50), percentile(lags, 0.99), lags[len(lags)-1]
	run.WireBytes, run.DecodedBytes = -1, -1
	if m, err := scrapeMetrics(f.reader, f.readerToken); err == nil {
		// Ops come pushed (streaming) and pulled (repair): both count.
		run.WireBytes = m[`lienthong_replica_bytes_total{direction="received",protocol="sync"}`] +
			m[`lienthong_replica_bytes_total{direction="received",protocol="push"}`]
		run.DecodedBytes = m[`lienthong_replica_bytes_total{direction="received_decoded",protocol="sync"}`] +
			m[`lienthong_replica_bytes_total{direction="received_decoded",protocol="push"}`]
	}
	return run, nil
}

// replFeed hands the ops [0, n) of a run to the writers on out, in order,
// as ranges of at most replBatch ops, and closes out; it stops early when
// ctx ends. At rate 0 it hands out full batches as fast as the writers take
// them. At rate > 0 the load is paced by time, not by the writers: op i is
// due at start + i/rate, and every replTick the ops due by then and not yet
// handed out go as one range (at 1,000 ops/s and a 1 ms tick, one op; at
// 10,000, about ten). A writer busy longer than a tick delays the next
// range, which then holds every op due meanwhile: the offered rate stays
// the same, and the achieved rate says whether the writer kept up.
func replFeed(ctx context.Context, start time.Time, n int, rate float64, out chan<- [2]int) {
	defer close(out)
	send := func(lo, hi int) bool {
		select {
		case out <- [2]int{lo, hi}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if rate <= 0 {
		for lo := 0; lo < n; lo += replBatch {
			if !send(lo, min(n, lo+replBatch)) {
				return
			}
		}
		return
	}
	tick := time.NewTicker(replTick)
	defer tick.Stop()
	for sent := 0; sent < n; {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for sent < due {
			hi := min(due, sent+replBatch)
			if !send(sent, hi) {
				return
			}
			sent = hi
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// percentile returns the p-quantile of sorted xs (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// scrapeMetrics reads n's /metrics through its API handler and returns the
// samples by name and labels.
func scrapeMetrics(n *node.Node, token string) (map[string]float64, error) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("bench: /metrics: %d", rec.Code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sumMetric adds up the samples of metric name whose labels include label.
func sumMetric(m map[string]float64, name, label string) float64 {
	var sum float64
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") && strings.Contains(k, label) {
			sum += v
		}
	}
	return sum
}

// benchRawLibp2p measures one libp2p stream between two fresh hosts on
// loopback, built by transport.NewHost like a node's (TCP, Noise, yamux,
// gater, resource manager): total bytes written in chunk-sized writes, read
// and discarded at the other end, timed until the reader has read them all.
// It returns MB/s (10^6 bytes).
func benchRawLibp2p(ctx context.Context, total, chunk int) (mbps float64, err error) {
	quiet := slog.New(slog.DiscardHandler)
	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			err = errors.Join(err, h.Close())
		}
	}()
	var gaters []*transport.Gater
	var ids []peer.ID
	for range 2 {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return 0, err
		}
		id, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return 0, err
		}
		g := transport.NewGater(quiet)
		h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: g, Logger: quiet})
		if err != nil {
			return 0, err
		}
		hosts, gaters, ids = append(hosts, h), append(gaters, g), append(ids, id)
	}
	for _, g := range gaters {
		g.SetAdmitted(ids)
	}
	src, dst := hosts[0], hosts[1]
	got := make(chan int64, 1)
	dst.SetStreamHandler(rawProtocol, func(s network.Stream) {
		n, _ := io.CopyBuffer(io.Discard, s, make([]byte, chunk))
		got <- n
		s.Write([]byte{1})
		s.Close()
	})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := src.Connect(ctx, peer.AddrInfo{ID: dst.ID(), Addrs: dst.Addrs()}); err != nil {
		return 0, fmt.Errorf("bench: raw libp2p: connect: %w", err)
	}
	s, err := src.NewStream(ctx, dst.ID(), rawProtocol)
	if err != nil {
		return 0, fmt.Errorf("bench: raw libp2p: open stream: %w", err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	buf := make([]byte, chunk)
	rand.Read(buf)
	start := time.Now()
	for sent := 0; sent < total; sent += chunk {
		if _, err := s.Write(buf[:min(chunk, total-sent)]); err != nil {
			return 0, fmt.Errorf("bench: raw libp2p: write: %w", err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		return 0, fmt.Errorf("bench: raw libp2p: close write: %w", err)
	}
	if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
		return 0, fmt.Errorf("bench: raw libp2p: wait for the reader: %w", err)
	}
	el := time.Since(start)
	if n := <-got; n != int64(total) {
		return 0, fmt.Errorf("bench: raw libp2p: the reader got %d bytes of %d", n, total)
	}
	return float64(total) / el.Seconds() / 1e6, nil
}
