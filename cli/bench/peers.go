package bench

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/lienthong/lienthong/sim/gen"
)

// peersScripts are the set-up scripts bench peers runs: cli/bench/*.sh,
// written to a temporary directory so that the binary works from anywhere.
//
//go:embed *.sh
var peersScripts embed.FS

// Shape of bench peers' load and of its observation of server B.
const (
	peersBatch       = 1000 // PostgreSQL rows per COPY, hence per transaction
	peersMaxPending  = 4096 // NATS async publishes awaiting their ack
	peersSetupBudget = 60 * time.Second
	peersStall       = 60 * time.Second // no progress at B for this long fails the run
	peersPollMin     = 5 * time.Millisecond
	peersPollMax     = time.Second
	peersNATSPoll    = 10 * time.Millisecond
	peersPGTable     = "citizens"
	peersPGPub       = "citizens_pub"
	peersPGSub       = "citizens_sub"
	peersStreamA     = "CITIZENS"
	peersStreamB     = "CITIZENS_MIRROR"
	peersSubject     = "citizens"
)

// peersRecord is one record of the load: a citizen of benchRecords (the
// same seed and projection), its key and its JSON line.
type peersRecord struct {
	key string
	doc []byte
}

// peersRecords returns benchCitizens(n) as key and JSON line, without the
// per-field maps that bench write needs: a million of those would not fit
// comfortably next to the servers.
func peersRecords(n int) ([]peersRecord, error) {
	out := make([]peersRecord, n)
	err := benchCitizens(n, func(i int, r gen.Record) error {
		out[i] = peersRecord{key: r.Key, doc: r.AppendJSON(nil)}
		return nil
	})
	return out, err
}

// PeersRun is one run of one system.
type PeersRun struct {
	// EndToEndPerS is count / ElapsedS.
	EndToEndPerS float64 `json:"end_to_end_records_per_s"`
	// PublisherPerS is count / LoadS: the rate server A accepted the load at.
	PublisherPerS float64 `json:"publisher_records_per_s"`
	// LoadS is the time from the start of the load until A acknowledged the
	// last record (psql's last COPY committed; the last PubAck received).
	LoadS float64 `json:"load_s"`
	// ElapsedS is the time from the start of the load until the sending of
	// the first poll that found every record at server B.
	ElapsedS float64 `json:"elapsed_s"`
	// Polls is how many times B's count was read.
	Polls int `json:"polls"`
}

// PeersSystem is one row of the table.
type PeersSystem struct {
	System          string     `json:"system"`
	Version         string     `json:"version"`
	Runs            []PeersRun `json:"runs"`
	EndToEndMedian  float64    `json:"end_to_end_records_per_s_median"`
	PublisherMedian float64    `json:"publisher_records_per_s_median"`
	LoadMedian      float64    `json:"load_s_median"`
	ElapsedMedian   float64    `json:"elapsed_s_median"`
}

// PeersResult is what bench peers measured (its --json output).
type PeersResult struct {
	Count       int           `json:"count"`
	NATSPending int           `json:"nats_max_pending_acks"`
	PGBatch     int           `json:"postgres_rows_per_transaction"`
	RecordBytes float64       `json:"record_json_bytes_avg"`
	Results     []PeersSystem `json:"results"`
	Runs        int           `json:"runs"`
	systems     []string
}

// PeersSystems are the systems Peers can measure, in their default order.
var PeersSystems = []string{"postgres", "nats"}

// Peers loads count citizen records at server A of each of systems (among
// PeersSystems) and counts them at server B, runs times each; its progress
// and the servers' output go to progress.
func Peers(ctx context.Context, count, runs int, systems []string, progress io.Writer) (*PeersResult, error) {
	if _, err := exec.LookPath("bash"); err != nil {
		return nil, errors.New("bench peers: the set-up scripts need bash, which is not on PATH")
	}

	fmt.Fprintf(progress, "generating %d citizen records...\n", count)
	recs, err := peersRecords(count)
	if err != nil {
		return nil, err
	}
	var docBytes int
	for _, r := range recs {
		docBytes += len(r.doc)
	}
	// The postgres system user runs the clusters when this is root: it
	// must be able to reach the directories under tmp.
	tmp, err := os.MkdirTemp("", "lienthong-bench-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	scripts, err := writePeersScripts(filepath.Join(tmp, "scripts"))
	if err != nil {
		return nil, err
	}

	results := make([]PeersSystem, len(systems))
	for i, s := range systems {
		results[i].System = s
	}
	for r := 1; r <= runs; r++ {
		for i, s := range systems {
			fmt.Fprintf(progress, "run %d/%d: %s, %d records from A to B...\n", r, runs, s, count)
			dir := filepath.Join(tmp, fmt.Sprintf("r%d-%s", r, s))
			var (
				run     PeersRun
				version string
				err     error
			)
			switch s {
			case "postgres":
				run, version, err = benchPeersPostgres(ctx, progress, scripts, dir, recs)
			case "nats":
				run, version, err = benchPeersNATS(ctx, progress, scripts, dir, recs)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", s, r, err)
			}
			fmt.Fprintf(progress, "run %d/%d: %s: %.0f records/s end to end, %.0f records/s accepted at A, %.1f s\n",
				r, runs, s, run.EndToEndPerS, run.PublisherPerS, run.ElapsedS)
			results[i].Version = version
			results[i].Runs = append(results[i].Runs, run)
		}
	}
	for i := range results {
		s := &results[i]
		s.EndToEndMedian = benchMedian(col(s.Runs, func(r PeersRun) float64 { return r.EndToEndPerS }))
		s.PublisherMedian = benchMedian(col(s.Runs, func(r PeersRun) float64 { return r.PublisherPerS }))
		s.LoadMedian = benchMedian(col(s.Runs, func(r PeersRun) float64 { return r.LoadS }))
		s.ElapsedMedian = benchMedian(col(s.Runs, func(r PeersRun) float64 { return r.ElapsedS }))
	}

	return &PeersResult{Count: count, Runs: runs, RecordBytes: float64(docBytes) / float64(count),
		PGBatch: peersBatch, NATSPending: peersMaxPending, Results: results, systems: systems}, nil
}

// Print writes the result as bench peers' table.
func (r *PeersResult) Print(w io.Writer) error {
	fmt.Fprintf(w, "%d citizen records per run (%.0f B of JSON each on average), loaded at server A and replicated to server B on loopback.\n",
		r.Count, r.RecordBytes)
	fmt.Fprintf(w, "Median of %d runs (min–max). End to end: from the first record sent to A until B holds them all.\n", r.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tversion\trecords/s end to end\t(min–max)\trecords/s accepted at A\t(min–max)\telapsed s\t(min–max)\t")
	for _, s := range r.Results {
		e2e := col(s.Runs, func(r PeersRun) float64 { return r.EndToEndPerS })
		pub := col(s.Runs, func(r PeersRun) float64 { return r.PublisherPerS })
		el := col(s.Runs, func(r PeersRun) float64 { return r.ElapsedS })
		prec := 1
		if s.ElapsedMedian < 10 {
			prec = 2
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t(%.0f–%.0f)\t%.0f\t(%.0f–%.0f)\t%.*f\t(%.*f–%.*f)\t\n", s.System, s.Version,
			s.EndToEndMedian, slices.Min(e2e), slices.Max(e2e),
			s.PublisherMedian, slices.Min(pub), slices.Max(pub),
			prec, s.ElapsedMedian, prec, slices.Min(el), prec, slices.Max(el))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.systems {
		switch s {
		case "postgres":
			fmt.Fprintf(w, "postgres: psql COPY at the publisher, %d rows a transaction, into citizens(id text primary key, doc jsonb); logical replication to a subscription made before the load.\n", peersBatch)
		case "nats":
			fmt.Fprintf(w, "nats: JetStream async publish to citizens.<key> at A, each acknowledged by A's file stream (up to %d in flight); B, a leaf node, mirrors that stream.\n", peersMaxPending)
		}
	}
	return nil
}

// writePeersScripts writes the embedded scripts into dir and returns their
// paths by name ("postgres.sh").
func writePeersScripts(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ents, err := peersScripts.ReadDir(".")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := peersScripts.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return nil, err
		}
		out[e.Name()] = p
	}
	return out, nil
}

// peersServers is a pair of servers started by one of the scripts.
type peersServers struct {
	progress io.Writer
	script   string // path
	name     string // "postgres.sh"
	dir      string
	env      map[string]string // the script's KEY=VALUE lines
}

// startPeersServers runs `script start dir` and parses its KEY=VALUE lines.
// The script's messages go to progress.
func startPeersServers(progress io.Writer, scripts map[string]string, name, dir string) (*peersServers, error) {
	s := &peersServers{progress: progress, script: scripts[name], name: name, dir: dir, env: map[string]string{}}
	out, err := s.runScript("start")
	if err != nil {
		// The script cleans up after its own failures; this covers a
		// script that was killed. stop does nothing if dir is gone.
		s.runScript("stop")
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok {
			s.env[k] = v
		}
	}
	return s, nil
}

// need returns the script's value for key, or an error naming the script.
func (s *peersServers) need(keys ...string) error {
	for _, k := range keys {
		if s.env[k] == "" {
			return fmt.Errorf("bench peers: %s start printed no %s= line", s.name, k)
		}
	}
	return nil
}

// stop runs `script stop dir`. When failed, it first copies the tail of the
// servers' logs to progress, since stop removes them.
func (s *peersServers) stop(failed bool) error {
	if failed {
		logs, _ := filepath.Glob(filepath.Join(s.dir, "*.log"))
		for _, l := range logs {
			b, err := os.ReadFile(l)
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			fmt.Fprintf(s.progress, "--- last lines of %s:\n%s\n", l, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	}
	_, err := s.runScript("stop")
	return err
}

// runScript runs the script with verb and s.dir, not bound to a context so
// that a cancelled bench still stops its servers; the scripts bound their own
// waits. It returns the standard output.
func (s *peersServers) runScript(verb string) ([]byte, error) {
	var out bytes.Buffer
	tail := &lastLine{}
	cmd := exec.Command("bash", s.script, verb, s.dir)
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(s.progress, tail)
	if err := cmd.Run(); err != nil {
		msg := tail.String()
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("bench peers: cli/bench/%s %s %s failed (%v): %s", s.name, verb, s.dir, err, msg)
	}
	return out.Bytes(), nil
}

// lastLine keeps the last non-empty line written to it.
type lastLine struct {
	mu   sync.Mutex
	cur  []byte
	last string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range p {
		if c == '\n' {
			if s := strings.TrimSpace(string(l.cur)); s != "" {
				l.last = s
			}
			l.cur = l.cur[:0]
			continue
		}
		l.cur = append(l.cur, c)
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := strings.TrimSpace(string(l.cur)); s != "" {
		return s
	}
	return l.last
}

// peersAwait polls count, the number of records at server B, until it
// reaches n, and returns the time the first poll that saw n was sent (all n
// were at B by then) and the number of polls. Until loadDone is closed it
// polls every during, or not at all if during is 0; after, every after, or
// if after is 0 at an interval that halves the estimated time left (doubling
// from peersPollMin while the count does not move), at most peersPollMax: a
// count(*) over a million rows is not free, and the subscriber shares the
// machine. It fails if the count does not move for peersStall.
func peersAwait(ctx context.Context, n int64, loadDone <-chan struct{}, during, after time.Duration,
	count func(context.Context) (int64, error)) (time.Time, int, error) {
	var (
		polls    int
		last     int64 = -1
		lastMove       = time.Now()
		prevAt   time.Time
		prevC    int64
		prevGap  = peersPollMin / 2
		loaded   bool
		isLoaded = func() bool {
			if !loaded {
				select {
				case <-loadDone:
					loaded = true
				default:
				}
			}
			return loaded
		}
	)
	if during == 0 {
		select {
		case <-loadDone:
			loaded = true
		case <-ctx.Done():
			return time.Time{}, polls, ctx.Err()
		}
	}
	for {
		sent := time.Now()
		c, err := count(ctx)
		polls++
		if err != nil {
			return time.Time{}, polls, fmt.Errorf("bench peers: count the records at B: %w", err)
		}
		if c >= n {
			return sent, polls, nil
		}
		if c > last {
			last, lastMove = c, time.Now()
		} else if time.Since(lastMove) > peersStall {
			return time.Time{}, polls, fmt.Errorf("bench peers: server B stalled at %d records of %d for %v", c, n, peersStall)
		}
		gap := during
		if isLoaded() {
			gap = after
			if gap == 0 {
				// Half the time left at the rate since the last poll;
				// without a rate, twice the last interval.
				gap = min(2*prevGap, peersPollMax)
				if !prevAt.IsZero() && c > prevC {
					rate := float64(c-prevC) / sent.Sub(prevAt).Seconds()
					gap = time.Duration(float64(n-c) / rate / 2 * float64(time.Second))
				}
				gap = min(max(gap, peersPollMin), peersPollMax)
			}
		}
		prevAt, prevC, prevGap = sent, c, gap
		t := time.NewTimer(gap)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, polls, ctx.Err()
		case <-t.C:
		}
	}
}

// peersWait polls cond until it holds, ctx ends or peersSetupBudget passes.
func peersWait(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(peersSetupBudget)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return fmt.Errorf("bench peers: timed out after %v waiting until %s: %w", peersSetupBudget, what, lastErr)
			}
			return fmt.Errorf("bench peers: timed out after %v waiting until %s", peersSetupBudget, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// copyEscape appends s to dst escaped for a field of COPY's text format.
func copyEscape(dst []byte, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// peersCopyScript returns the psql input that loads recs: one COPY of
// peersBatch rows after another, each its own transaction.
func peersCopyScript(recs []peersRecord) []byte {
	size := 0
	for _, r := range recs {
		size += len(r.key) + len(r.doc) + 8
	}
	out := make([]byte, 0, size+(len(recs)/peersBatch+1)*64)
	for b := 0; b < len(recs); b += peersBatch {
		out = append(out, "COPY "+peersPGTable+" (id, doc) FROM STDIN;\n"...)
		for _, r := range recs[b:min(len(recs), b+peersBatch)] {
			out = copyEscape(out, []byte(r.key))
			out = append(out, '\t')
			out = copyEscape(out, r.doc)
			out = append(out, '\n')
		}
		out = append(out, "\\.\n"...)
	}
	return out
}

// pgClient runs psql against one of the clusters.
type pgClient struct {
	psql, port string
}

func (p pgClient) args(extra ...string) []string {
	return append([]string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", p.port, "-U", "postgres", "-d", "postgres"}, extra...)
}

// query runs each statement with its own -c (so each is its own
// transaction) and returns psql's output, trimmed.
func (p pgClient) query(ctx context.Context, stmts ...string) (string, error) {
	var args []string
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, p.psql, p.args(args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql on port %s: %q: %v: %s", p.port, strings.Join(stmts, "; "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (p pgClient) count(ctx context.Context) (int64, error) {
	out, err := p.query(ctx, "select count(*) from "+peersPGTable)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(out, 10, 64)
}

// benchPeersPostgres starts a publisher and a subscriber in dir, creates the
// table on both, the publication and the subscription (before the load: it
// measures streaming replication, not the initial copy), then loads recs at
// the publisher with psql COPY and waits until the subscriber has them all.
func benchPeersPostgres(ctx context.Context, progress io.Writer, scripts map[string]string, dir string, recs []peersRecord) (run PeersRun, version string, err error) {
	script := peersCopyScript(recs) // before the servers start: not timed
	srv, err := startPeersServers(progress, scripts, "postgres.sh", dir)
	if err != nil {
		return run, "", err
	}
	defer func() { err = errors.Join(err, srv.stop(err != nil)) }()
	if err := srv.need("PUB_PORT", "SUB_PORT", "PSQL"); err != nil {
		return run, "", err
	}
	version = srv.env["VERSION"]
	pub := pgClient{psql: srv.env["PSQL"], port: srv.env["PUB_PORT"]}
	sub := pgClient{psql: srv.env["PSQL"], port: srv.env["SUB_PORT"]}
	table := "create table " + peersPGTable + " (id text primary key, doc jsonb)"
	if _, err := pub.query(ctx, table, "create publication "+peersPGPub+" for table "+peersPGTable); err != nil {
		return run, version, fmt.Errorf("bench peers: schema at the publisher: %w", err)
	}
	if _, err := sub.query(ctx, table,
		fmt.Sprintf("create subscription %s connection 'host=127.0.0.1 port=%s user=postgres dbname=postgres' publication %s with (copy_data = false)",
			peersPGSub, pub.port, peersPGPub)); err != nil {
		return run, version, fmt.Errorf("bench peers: schema at the subscriber: %w", err)
	}
	if err := peersWait(ctx, "the subscription streams from the publisher", func() (bool, error) {
		out, err := pub.query(ctx, "select count(*) from pg_stat_replication where application_name = '"+peersPGSub+"' and state = 'streaming'")
		return out == "1", err
	}); err != nil {
		return run, version, err
	}

	n := int64(len(recs))
	loadDone := make(chan struct{})
	type awaited struct {
		at    time.Time
		polls int
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan awaited, 1)
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, pub.psql, pub.args()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(script), io.Discard, &errb
	start := time.Now()
	go func() {
		at, polls, err := peersAwait(ctx, n, loadDone, 0, 0, sub.count)
		got <- awaited{at, polls, err}
	}()
	if err := cmd.Run(); err != nil {
		cancel()
		<-got
		return run, version, fmt.Errorf("bench peers: psql COPY into the publisher: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	loaded := time.Now()
	close(loadDone)
	a := <-got
	if a.err != nil {
		return run, version, a.err
	}
	run = peersFigures(n, start, loaded, a.at, a.polls)

	// A spot check, not timed: the last record arrived whole.
	last := recs[len(recs)-1]
	doc, err := sub.query(ctx, "select doc = '"+strings.ReplaceAll(string(last.doc), "'", "''")+"'::jsonb from "+peersPGTable+" where id = '"+last.key+"'")
	if err != nil {
		return run, version, fmt.Errorf("bench peers: read back the last record at the subscriber: %w", err)
	}
	if doc != "t" {
		return run, version, fmt.Errorf("bench peers: the subscriber's record %s differs from the one loaded (%q)", last.key, doc)
	}
	return run, version, nil
}

func peersFigures(n int64, start, loaded, atB time.Time, polls int) PeersRun {
	r := PeersRun{LoadS: loaded.Sub(start).Seconds(), ElapsedS: atB.Sub(start).Seconds(), Polls: polls}
	r.PublisherPerS = float64(n) / r.LoadS
	r.EndToEndPerS = float64(n) / r.ElapsedS
	return r
}

// benchPeersNATS starts a hub (A) and a leaf node (B) in dir, creates a
// file stream for citizens.> on A and a file stream on B that mirrors it
// across the leaf connection, then publishes recs at A with async publishes
// acknowledged by the stream and waits until B's stream holds them all.
func benchPeersNATS(ctx context.Context, progress io.Writer, scripts map[string]string, dir string, recs []peersRecord) (run PeersRun, version string, err error) {
	subjects := make([]string, len(recs)) // before the servers start: not timed
	for i, r := range recs {
		subjects[i] = peersSubject + "." + r.key
	}
	srv, err := startPeersServers(progress, scripts, "nats.sh", dir)
	if err != nil {
		return run, "", err
	}
	defer func() { err = errors.Join(err, srv.stop(err != nil)) }()
	if err := srv.need("HUB_URL", "LEAF_URL", "HUB_DOMAIN"); err != nil {
		return run, "", err
	}
	version = srv.env["VERSION"]

	var (
		ackErrs, acks atomic.Int64
		errMu         sync.Mutex
		firstErr      error
	)
	connect := func(url, name string) (*nats.Conn, error) {
		nc, err := nats.Connect(url, nats.Name("lienthong bench peers "+name), nats.Timeout(10*time.Second), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("bench peers: connect to nats-server %s at %s: %w", name, url, err)
		}
		return nc, nil
	}
	ncA, err := connect(srv.env["HUB_URL"], "A (hub)")
	if err != nil {
		return run, version, err
	}
	defer ncA.Close()
	ncB, err := connect(srv.env["LEAF_URL"], "B (leaf)")
	if err != nil {
		return run, version, err
	}
	defer ncB.Close()
	if v := ncA.ConnectedServerVersion(); v != "" {
		version = v
	}
	jsA, err := jetstream.New(ncA,
		jetstream.WithPublishAsyncMaxPending(peersMaxPending),
		jetstream.WithPublishAsyncTimeout(peersStall),
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { acks.Add(1) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			ackErrs.Add(1)
			errMu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", m.Subject, err)
			}
			errMu.Unlock()
		}))
	if err != nil {
		return run, version, err
	}
	jsB, err := jetstream.New(ncB)
	if err != nil {
		return run, version, err
	}
	setup, cancelSetup := context.WithTimeout(ctx, peersSetupBudget)
	defer cancelSetup()
	if _, err := jsA.CreateStream(setup, jetstream.StreamConfig{Name: peersStreamA, Subjects: []string{peersSubject + ".>"},
		Storage: jetstream.FileStorage, Replicas: 1}); err != nil {
		return run, version, fmt.Errorf("bench peers: create stream %s on A: %w", peersStreamA, err)
	}
	var streamB jetstream.Stream
	if err := peersWait(ctx, "B's stream mirrors A's", func() (bool, error) {
		if streamB == nil {
			s, err := jsB.CreateStream(setup, jetstream.StreamConfig{Name: peersStreamB, Storage: jetstream.FileStorage, Replicas: 1,
				Mirror: &jetstream.StreamSource{Name: peersStreamA, Domain: srv.env["HUB_DOMAIN"]}})
			if err != nil {
				return false, fmt.Errorf("create the mirror stream %s on B: %w", peersStreamB, err)
			}
			streamB = s
		}
		ib, err := streamB.Info(setup)
		if err != nil {
			return false, err
		}
		if ib.Mirror == nil {
			return false, errors.New("the stream on B reports no mirror")
		}
		if ib.Mirror.Error != nil {
			return false, fmt.Errorf("the mirror on B reports: %v", ib.Mirror.Error)
		}
		// Active is -1 until the mirror has heard from A. (A's stream does
		// not count the mirror's consumer among its consumers.)
		return ib.Mirror.Active >= 0, nil
	}); err != nil {
		return run, version, err
	}

	n := int64(len(recs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loadDone := make(chan struct{})
	type awaited struct {
		at    time.Time
		polls int
		err   error
	}
	got := make(chan awaited, 1)
	countB := func(ctx context.Context) (int64, error) {
		info, err := streamB.Info(ctx)
		if err != nil {
			return 0, err
		}
		return int64(info.State.Msgs), nil
	}
	start := time.Now()
	go func() {
		at, polls, err := peersAwait(ctx, n, loadDone, peersNATSPoll, peersNATSPoll, countB)
		got <- awaited{at, polls, err}
	}()
	fail := func(err error) (PeersRun, string, error) {
		cancel()
		<-got
		return run, version, err
	}
	stall := jetstream.WithStallWait(peersStall)
	for i, r := range recs {
		if _, err := jsA.PublishAsync(subjects[i], r.doc, stall); err != nil {
			return fail(fmt.Errorf("bench peers: publish record %d to A: %w", i, err))
		}
	}
	select {
	case <-jsA.PublishAsyncComplete():
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	loaded := time.Now()
	close(loadDone)
	if e := ackErrs.Load(); e > 0 {
		errMu.Lock()
		first := firstErr
		errMu.Unlock()
		return fail(fmt.Errorf("bench peers: %d publishes to A were not acknowledged; the first: %w", e, first))
	}
	if a := acks.Load(); a != n {
		return fail(fmt.Errorf("bench peers: A acknowledged %d publishes of %d", a, n))
	}
	a := <-got
	if a.err != nil {
		return run, version, a.err
	}
	run = peersFigures(n, start, loaded, a.at, a.polls)

	// A spot check, not timed: the last record arrived whole.
	m, err := streamB.GetMsg(ctx, uint64(n))
	if err != nil {
		return run, version, fmt.Errorf("bench peers: read back the last record at B: %w", err)
	}
	if last := recs[len(recs)-1]; m.Subject != subjects[len(recs)-1] || !bytes.Equal(m.Data, last.doc) {
		return run, version, fmt.Errorf("bench peers: B's message %d (%s) differs from the record loaded (%s)", n, m.Subject, subjects[len(recs)-1])
	}
	return run, version, nil
}
