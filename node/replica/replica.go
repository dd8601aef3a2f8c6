package replica

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport/digest"
	"github.com/lienthong/lienthong/transport/pull"
	"github.com/lienthong/lienthong/transport/push"
	"github.com/lienthong/lienthong/transport/snapshot"
)

// Network is a replicator's view of its links to peers. P2P implements it
// over libp2p; the simulator implements it in memory.
type Network interface {
	// Connected reports whether a link to p is up now. Safe for concurrent
	// use; never blocks.
	Connected(p peer.ID) bool
}

// Requester is a Network that can also make a request and wait for its
// answer: what the blocking calls (Pull, Recover, Compare) need. The
// driver does not: its Runtime sends and delivers answers as events.
type Requester interface {
	Network
	// Request sends req to peer p on protocol proto and returns p's answer,
	// at most maxResp bytes. It blocks until the answer, an error or the
	// end of ctx. Safe for concurrent use.
	Request(ctx context.Context, p peer.ID, proto string, req []byte, maxResp int) ([]byte, error)
}

// ErrNoRequester is returned by the blocking calls over a Network that
// cannot wait for an answer.
var ErrNoRequester = errors.New("replica: the network makes no blocking requests")

// Config configures a Replicator. Zero values mean the defaults given.
type Config struct {
	Self    string         // member name
	Key     crypto.PrivKey // identity key: signs this node's stream heads
	Network Network
	Store   *storage.Store
	Meta    meta.Store
	Engine  *data.Engine
	// Now returns the time; nil means time.Now. The simulator passes its clock.
	Now func() time.Time
	// Interval is the time between anti-entropy rounds with every connected
	// member (the driver's timer); zero means 2 s.
	Interval time.Duration
	// Push subscribes to each source's push stream (transport/push) over a
	// runtime that can hold one (a Streamer). Off, the node replicates by
	// notification and pull alone; it serves push subscriptions either way.
	// Off by default until the simulator runs push (docs/architecture.md).
	Push bool
	// MaxBatchOps bounds the ops of one stream in one response; zero means 4096.
	MaxBatchOps int
	// MaxResponseOpBytes bounds the encoded ops of one sync response; zero
	// means 8 MiB.
	MaxResponseOpBytes int
	// SnapshotChunkBytes is the size of the entity states in one snapshot
	// chunk, before compression; zero means 4 MiB.
	SnapshotChunkBytes int
	// SnapshotAfterOps is how many ops of one stream a reader may lack
	// before the dataset's owner sends it a snapshot instead (a new reader
	// of a large dataset); zero means 250,000, negative never.
	SnapshotAfterOps int
	// QuarantineFor is how long a stream from a peer that sent a bad batch
	// is ignored; zero means 10 minutes.
	QuarantineFor time.Duration
	// Retention is how long ops are kept after their origin wrote them
	// before they may be truncated, once every reader that pulled from this
	// node within the retention has them; zero means 7 days, negative keeps
	// every op forever. A reader behind the truncation point gets a dataset
	// snapshot.
	Retention  time.Duration
	Registerer prometheus.Registerer // nil: no metrics
	Logger     *slog.Logger
}

// Replicator serves, verifies and applies op streams: the store side of
// replication. It holds no goroutines and no timers and decides nothing
// about when: a Driver runs the engine's schedule over it (Run over
// libp2p, or the simulator), and routes requests from peers to Handle. Its
// methods are safe for concurrent use.
type Replicator struct {
	cfg   Config
	stats metrics

	mu struct {
		sync.Mutex
		quarantine map[quarantineKey]quarantined
		lastSync   map[peer.ID]time.Time
		acked      map[string]ack // by member name: what it had at its last pull
		// subscribers counts the live subscriptions to this node by
		// member name.
		subscribers map[string]int
	}
}

// ack is what a reader reported having when it last pulled from this node.
type ack struct {
	seqs map[storage.Stream]uint64
	at   time.Time
}

type quarantineKey struct {
	peer    peer.ID
	dataset string
	origin  string
}

type quarantined struct {
	reason string
	until  time.Time
}

// QuarantinedStream is a stream this node ignores from one peer.
type QuarantinedStream struct {
	Peer, Dataset, Origin, Reason string
	Until                         time.Time
}

type metrics struct {
	applied   *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	forks     prometheus.Counter
	truncated *prometheus.CounterVec
	chunks    *prometheus.CounterVec
	snapshots *prometheus.CounterVec

	subscriptions prometheus.Gauge
	pushResets    *prometheus.CounterVec
	applyDuration prometheus.Histogram
}

// New returns a replicator; it serves nothing until a driver routes
// requests to Handle.
func New(cfg Config) *Replicator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.MaxBatchOps == 0 {
		cfg.MaxBatchOps = 4096
	}
	if cfg.MaxResponseOpBytes == 0 {
		cfg.MaxResponseOpBytes = 8 << 20
	}
	if cfg.SnapshotChunkBytes == 0 {
		cfg.SnapshotChunkBytes = 4 << 20
	}
	if cfg.SnapshotAfterOps == 0 {
		cfg.SnapshotAfterOps = 250_000
	}
	if cfg.QuarantineFor == 0 {
		cfg.QuarantineFor = 10 * time.Minute
	}
	if cfg.Retention == 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Replicator{cfg: cfg}
	r.mu.quarantine = map[quarantineKey]quarantined{}
	r.mu.lastSync = map[peer.ID]time.Time{}
	r.mu.acked = map[string]ack{}
	r.mu.subscribers = map[string]int{}
	r.stats = metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_ops_applied_total",
			Help: "Replicated ops applied, by dataset."}, []string{"dataset"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_ops_rejected_total",
			Help: "Replicated batches rejected, by reason."}, []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_bytes_total",
			Help: "Replication bytes by protocol (sync, notify, snapshot, digest) and direction: sent and received on the wire (zstd where compressed), and received_decoded; received_decoded/received is the compression ratio."},
			[]string{"protocol", "direction"}),
		forks: prometheus.NewCounter(prometheus.CounterOpts{Name: "lienthong_replica_forks_total",
			Help: "Forks detected: two different signed ops at one stream position (the stream is frozen)."}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_ops_truncated_total",
			Help: "Ops dropped from the op log after the retention, by dataset."}, []string{"dataset"}),
		chunks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_snapshot_chunks_total",
			Help: "Dataset snapshot chunks, by direction (sent, received)."}, []string{"direction"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_snapshots_total",
			Help: "Dataset snapshot transfers fetched by this node: started, resumed after an interruption, installed."},
			[]string{"event"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lienthong_replica_subscribers",
			Help: "Live push subscriptions to this node (streaming replication)."}),
		pushResets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_push_resets_total",
			Help: "Push streams reset on an error, a gap, a malformed or oversized frame or a broken window, by side (source, reader); the reader repairs by pull and subscribes again."},
			[]string{"side"}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lienthong_replica_apply_duration_seconds",
			Help:    "Time to verify and apply one received batch of a stream (pulled or pushed) that brought new ops, to its durable commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.stats.applied, r.stats.rejected, r.stats.bytes, r.stats.forks,
			r.stats.truncated, r.stats.chunks, r.stats.snapshots, r.stats.subscriptions, r.stats.pushResets, r.stats.applyDuration, lagCollector{r})
	}
	return r
}

// Protocols lists the protocols Handle serves, with the largest request each
// takes.
func Protocols() map[string]int {
	return map[string]int{
		pull.ID:       pull.MaxRequestBytes,
		pull.NotifyID: pull.MaxNotifyBytes,
		snapshot.ID:   snapshot.MaxRequestBytes,
		digest.ID:     digest.MaxRequestBytes,
	}
}

// ErrUnknownProtocol is returned by Handle for a protocol it does not serve.
var ErrUnknownProtocol = fmt.Errorf("replica: unknown protocol")

// Handle answers a request from peer from on protocol proto. A notification
// calls onNotify (nil: ignored) so that the driver pulls from the peer.
// Errors are for the transport (the stream is reset); refusals a peer should
// read are encoded in the answer.
func (r *Replicator) Handle(ctx context.Context, from peer.ID, proto string, req []byte, onNotify func(peer.ID)) ([]byte, error) {
	r.countBytes(proto, "received", len(req))
	var resp []byte
	var err error
	switch proto {
	case pull.ID:
		resp, err = r.serveSync(ctx, from, req)
	case pull.NotifyID:
		if onNotify != nil && r.behind(req) {
			onNotify(from)
		}
		resp = []byte{1}
	case snapshot.ID:
		resp, err = r.serveSnapshot(ctx, from, req)
	case digest.ID:
		resp, err = r.serveDigest(from, req)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownProtocol, proto)
	}
	r.countBytes(proto, "sent", len(resp))
	return resp, err
}

// request sends a request through the network and counts its bytes.
func (r *Replicator) request(ctx context.Context, p peer.ID, proto string, req []byte, max int) ([]byte, error) {
	rq, ok := r.cfg.Network.(Requester)
	if !ok {
		return nil, ErrNoRequester
	}
	r.countBytes(proto, "sent", len(req))
	resp, err := rq.Request(ctx, p, proto, req, max)
	r.countBytes(proto, "received", len(resp))
	return resp, err
}

func (r *Replicator) countBytes(proto, direction string, n int) {
	name := proto
	switch proto {
	case pull.ID:
		name = "sync"
	case pull.NotifyID:
		name = "notify"
	case snapshot.ID:
		name = "snapshot"
	case digest.ID:
		name = "digest"
	case push.ID:
		name = "push"
	}
	r.stats.bytes.WithLabelValues(name, direction).Add(float64(n))
}

// memberOf returns the member with peer ID id, or nil.
func memberOf(v *meta.View, id peer.ID) *meta.Member { return v.MemberByPeerID(id.String()) }

// readersOf returns every member that may read ds: its owner and readers.
func readersOf(ds *dict.Dataset) []string { return append([]string{ds.Owner}, ds.Readers...) }

// ChangedDatasets returns the datasets of the durable changes after change
// feed position since, sorted, and the position it read up to.
func (r *Replicator) ChangedDatasets(since uint64) ([]string, uint64) {
	seen := map[string]bool{}
	for {
		page, err := r.cfg.Store.Changes(since, 4096)
		if err != nil {
			r.cfg.Logger.Warn("read the change feed", "err", err)
			break
		}
		for _, c := range page {
			seen[c.Dataset] = true
			since = c.Seq
		}
		if len(page) < 4096 {
			break
		}
	}
	return slices.Sorted(maps.Keys(seen)), since
}

// NotifyMessage is the notification of new ops of the datasets named: this
// node's durable heads of them, so that a peer that has them all does not
// pull.
func (r *Replicator) NotifyMessage(datasets []string) []byte {
	var hs []pull.Have
	for _, d := range datasets {
		heads := r.cfg.Store.DurableHeads(d)
		for _, st := range sortedStreams(heads) {
			hs = append(hs, pull.Have{Dataset: st.Dataset, Origin: st.Origin, Seq: heads[st].Seq})
		}
	}
	b, _ := json.Marshal(hs)
	if len(b) > pull.MaxNotifyBytes {
		return []byte("[]") // too many streams to list: "pull anyway"
	}
	return b
}

// behind reports whether a notification names a stream, of a dataset this
// node may read, further than this node has it (or names none).
func (r *Replicator) behind(msg []byte) bool {
	var hs []pull.Have
	if json.Unmarshal(msg, &hs) != nil || len(hs) == 0 {
		return true
	}
	v := r.cfg.Meta.View()
	heads, _ := r.cfg.Store.Heads("")
	for _, h := range hs {
		if ds := v.Dataset(h.Dataset); ds != nil && ds.CanRead(r.cfg.Self) &&
			heads[storage.Stream{Dataset: h.Dataset, Origin: h.Origin}].Seq < h.Seq {
			return true
		}
	}
	return false
}

func sortedStreams(heads map[storage.Stream]storage.Head) []storage.Stream {
	out := make([]storage.Stream, 0, len(heads))
	for s := range heads {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b storage.Stream) int {
		if c := strings.Compare(a.Dataset, b.Dataset); c != 0 {
			return c
		}
		return strings.Compare(a.Origin, b.Origin)
	})
	return out
}

// sigKey is the node-local key of the origin's signature of a stream head.
func sigKey(st storage.Stream, seq uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte(sigPrefix(st)), seq))
}

func sigPrefix(st storage.Stream) string { return "sig/" + st.Dataset + "\x00" + st.Origin + "\x00" }

func (r *Replicator) reject(from peer.ID, st storage.Stream, reason string, err error) error {
	r.stats.rejected.WithLabelValues(reason).Inc()
	r.cfg.Logger.Warn("sync: batch rejected; stream quarantined", "peer", from, "dataset", st.Dataset,
		"origin", st.Origin, "reason", reason, "err", err)
	if st.Dataset != "" {
		r.mu.Lock()
		r.mu.quarantine[quarantineKey{from, st.Dataset, st.Origin}] = quarantined{reason, r.cfg.Now().Add(r.cfg.QuarantineFor)}
		r.mu.Unlock()
	}
	return fmt.Errorf("%s: %w", reason, err)
}

func (r *Replicator) isQuarantined(p peer.ID, st storage.Stream) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.mu.quarantine[quarantineKey{p, st.Dataset, st.Origin}]
	return ok && r.cfg.Now().Before(q.until)
}

// Quarantined lists the streams ignored from some peer, for status.
func (r *Replicator) Quarantined() []QuarantinedStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []QuarantinedStream
	now := r.cfg.Now()
	for k, q := range r.mu.quarantine {
		if now.Before(q.until) {
			out = append(out, QuarantinedStream{Peer: k.peer.String(), Dataset: k.dataset, Origin: k.origin, Reason: q.reason, Until: q.until})
		}
	}
	slices.SortFunc(out, func(a, b QuarantinedStream) int {
		return strings.Compare(a.Peer+a.Dataset+a.Origin, b.Peer+b.Dataset+b.Origin)
	})
	return out
}

// LastSync returns when this node last completed a pull from each peer.
func (r *Replicator) LastSync() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]time.Time{}
	for p, t := range r.mu.lastSync {
		out[p.String()] = t
	}
	return out
}
