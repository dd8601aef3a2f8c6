package replica

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
)

// Protocol IDs.
const (
	SyncProtocol   = "/lienthong/sync/1.0.0"
	NotifyProtocol = "/lienthong/notify/1.0.0"
)

// Config configures a Replicator.
type Config struct {
	Self   string         // member name
	Key    crypto.PrivKey // identity key: signs this node's stream heads
	Host   host.Host
	Store  *storage.Store
	Meta   meta.Store
	Engine *data.Engine
	// Interval between anti-entropy rounds with every connected member;
	// zero means 2 s.
	Interval time.Duration
	// MaxBatchOps bounds the ops of one stream in one response; zero means 4096.
	MaxBatchOps int
	// QuarantineFor is how long a stream from a peer that sent a bad batch
	// is ignored; zero means 10 minutes.
	QuarantineFor time.Duration
	Registerer    prometheus.Registerer // nil: no metrics
	Logger        *slog.Logger
}

// Replicator serves and pulls op streams. Its methods are safe for
// concurrent use.
type Replicator struct {
	cfg   Config
	wake  chan peer.ID
	stats metrics

	mu struct {
		sync.Mutex
		quarantine map[quarantineKey]quarantined
		lastSync   map[peer.ID]time.Time
		acked      map[string]ack // by member name: what it had at its last pull
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
	applied  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	forks    prometheus.Counter
	lag      *prometheus.GaugeVec
}

// New registers the protocols on cfg.Host. Call Run to replicate.
func New(cfg Config) *Replicator {
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.MaxBatchOps == 0 {
		cfg.MaxBatchOps = 4096
	}
	if cfg.QuarantineFor == 0 {
		cfg.QuarantineFor = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Replicator{cfg: cfg, wake: make(chan peer.ID, 64)}
	r.mu.quarantine = map[quarantineKey]quarantined{}
	r.mu.lastSync = map[peer.ID]time.Time{}
	r.mu.acked = map[string]ack{}
	r.stats = metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_ops_applied_total",
			Help: "Replicated ops applied, by dataset."}, []string{"dataset"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_ops_rejected_total",
			Help: "Replicated batches rejected, by reason."}, []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lienthong_replica_bytes_total",
			Help: "Sync response bytes: sent and received on the wire (zstd), and received once decoded; received_decoded/received is the compression ratio."}, []string{"direction"}),
	}
	r.stats.forks = prometheus.NewCounter(prometheus.CounterOpts{Name: "lienthong_replica_forks_total",
		Help: "Forks detected: two different signed ops at one stream position (the stream is frozen)."})
	r.stats.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lienthong_replica_lag_ops",
		Help: "Ops this node holds that a reader had not yet asked for at its last pull, by dataset and reader."}, []string{"dataset", "peer"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.stats.applied, r.stats.rejected, r.stats.bytes, r.stats.forks, r.stats.lag)
	}
	transport.Handle(cfg.Host, SyncProtocol, maxRequestBytes, 30*time.Second, r.serve)
	transport.Handle(cfg.Host, DigestProtocol, 256, 60*time.Second, r.serveDigest)
	transport.Handle(cfg.Host, NotifyProtocol, 16, 5*time.Second, func(_ context.Context, from peer.ID, _ []byte) ([]byte, error) {
		select {
		case r.wake <- from:
		default:
		}
		return []byte{1}, nil
	})
	return r
}

// memberOf returns the member with peer ID id, or nil.
func memberOf(v *meta.View, id peer.ID) *meta.Member {
	for _, m := range v.Members() {
		if m.PeerID == id.String() {
			return m
		}
	}
	return nil
}

// serve answers a sync request: for each dataset the requester may read,
// the ops of each stream beyond the requester's head.
func (r *Replicator) serve(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	v := r.cfg.Meta.View()
	m := memberOf(v, from)
	if m == nil {
		return nil, fmt.Errorf("sync from %s: not a member", from)
	}
	var q request
	if err := json.Unmarshal(req, &q); err != nil {
		return nil, fmt.Errorf("sync from %s: %w", m.Name, err)
	}
	theirs := map[storage.Stream]uint64{}
	for _, h := range q.Have {
		theirs[storage.Stream{Dataset: h.Dataset, Origin: h.Origin}] = h.Seq
	}
	r.mu.Lock()
	r.mu.acked[m.Name] = ack{seqs: theirs, at: time.Now()}
	r.mu.Unlock()
	var out []batch
	budget := 8 << 20
	for _, name := range q.Datasets {
		ds := v.Dataset(name)
		if ds == nil || !ds.CanRead(m.Name) {
			continue // never tell what a peer may not read
		}
		heads, err := r.cfg.Store.Heads(name)
		if err != nil {
			return nil, err
		}
		for _, st := range sortedStreams(heads) {
			their := theirs[st]
			if heads[st].Seq <= their || budget <= 0 {
				continue
			}
			b, err := r.batchFor(st, their, heads[st].Seq)
			if err != nil {
				r.cfg.Logger.Warn("sync: serve stream", "stream", st, "err", err)
				continue
			}
			if b == nil {
				continue
			}
			for _, op := range b.Ops {
				budget -= len(op)
			}
			out = append(out, *b)
		}
	}
	resp := encodeResponse(out)
	r.stats.bytes.WithLabelValues("sent").Add(float64(len(resp)))
	return resp, nil
}

func sortedStreams(heads map[storage.Stream]storage.Head) []storage.Stream {
	out := make([]storage.Stream, 0, len(heads))
	for s := range heads {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b storage.Stream) int {
		if a.Dataset != b.Dataset {
			return compare(a.Dataset, b.Dataset)
		}
		return compare(a.Origin, b.Origin)
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// batchFor returns the ops of stream st after seq from, ending at a signed
// head: for this node's own streams it signs one; for others it ends where
// it holds the origin's signature. Nil when it has nothing signed to give.
func (r *Replicator) batchFor(st storage.Stream, from, head uint64) (*batch, error) {
	end := min(head, from+uint64(r.cfg.MaxBatchOps))
	var sig []byte
	if st.Origin == r.cfg.Self {
		// Signed below, once the hash of op end is known.
	} else {
		seq, s, err := r.signatureFor(st, from, end)
		if err != nil || s == nil {
			return nil, err
		}
		end, sig = seq, s
	}
	b := &batch{Head: SignedHead{Dataset: st.Dataset, Origin: st.Origin, Seq: end, Sig: sig}}
	err := r.cfg.Store.OpRange(st.Dataset, st.Origin, from+1, end, func(seq uint64, enc []byte) bool {
		b.Ops = append(b.Ops, slices.Clone(enc))
		return true
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(b.Ops)) != end-from {
		return nil, fmt.Errorf("op log of %s/%s has %d ops in (%d, %d]; truncated history is served by snapshot (not yet implemented)",
			st.Dataset, st.Origin, len(b.Ops), from, end)
	}
	b.Head.Hash = hashOp(b.Ops[len(b.Ops)-1])
	if sig == nil {
		if err := b.Head.Sign(r.cfg.Key); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// sigKey is the node-local key of the origin's signature of a stream head.
func sigKey(st storage.Stream, seq uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte(sigPrefix(st)), seq))
}

func sigPrefix(st storage.Stream) string { return "sig/" + st.Dataset + "\x00" + st.Origin + "\x00" }

// signatureFor finds a stored signature of stream st at a seq after from:
// the greatest one not beyond end, else the smallest beyond it.
func (r *Replicator) signatureFor(st storage.Stream, from, end uint64) (uint64, []byte, error) {
	var best uint64
	var sig []byte
	prefix := sigPrefix(st)
	err := r.cfg.Store.ScanLocal(prefix, func(name string, v []byte) error {
		seq := binary.BigEndian.Uint64([]byte(name[len(prefix):]))
		switch {
		case seq <= from:
		case seq <= end:
			best, sig = seq, slices.Clone(v)
		case sig == nil:
			best, sig = seq, slices.Clone(v)
			return errStop
		default:
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return best, sig, err
}

var errStop = errors.New("stop")

// Run pulls from connected members on every notification, after local
// writes (notifying them in turn) and on the anti-entropy timer, until ctx ends.
func (r *Replicator) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	local := make(chan struct{}, 1)
	go func() {
		since := r.cfg.Store.Durable()
		for ctx.Err() == nil {
			if err := r.cfg.Store.WaitDurable(ctx, since); err != nil {
				return
			}
			// Coalesce: under load, tell peers at most every 20 ms.
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			since = r.cfg.Store.Durable()
			select {
			case local <- struct{}{}:
			default:
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-r.wake:
			r.pull(ctx, p)
		case <-local:
			r.notifyAll(ctx)
		case <-tick.C:
			for _, p := range r.peers() {
				r.pull(ctx, p)
			}
		}
	}
}

// peers returns the connected members.
func (r *Replicator) peers() []peer.ID {
	v := r.cfg.Meta.View()
	var out []peer.ID
	for _, m := range v.Members() {
		id, err := peer.Decode(m.PeerID)
		if err != nil || m.Name == r.cfg.Self {
			continue
		}
		if r.cfg.Host.Network().Connectedness(id) == network.Connected {
			out = append(out, id)
		} else {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				r.cfg.Host.Connect(ctx, peer.AddrInfo{ID: id})
			}()
		}
	}
	return out
}

// notifyAll tells connected members that this node has new ops.
func (r *Replicator) notifyAll(ctx context.Context) {
	for _, p := range r.peers() {
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			transport.Request(ctx, r.cfg.Host, p, NotifyProtocol, []byte{1}, 16)
		}()
	}
}

// pull fetches from p what this node lacks, until p has nothing more.
func (r *Replicator) pull(ctx context.Context, p peer.ID) {
	for round := 0; round < 64; round++ {
		n, err := r.PullOnce(ctx, p)
		if err != nil {
			r.cfg.Logger.Debug("sync: pull", "peer", p, "err", err)
			return
		}
		if n == 0 {
			return
		}
	}
}

// PullOnce sends p this node's version vector and applies one response; it
// returns the number of ops applied.
func (r *Replicator) PullOnce(ctx context.Context, p peer.ID) (int, error) {
	v := r.cfg.Meta.View()
	var q request
	for _, ds := range v.Datasets() {
		if ds.CanRead(r.cfg.Self) {
			q.Datasets = append(q.Datasets, ds.Name)
		}
	}
	if len(q.Datasets) == 0 {
		return 0, nil
	}
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return 0, err
	}
	for _, st := range sortedStreams(heads) {
		q.Have = append(q.Have, have{Dataset: st.Dataset, Origin: st.Origin, Seq: heads[st].Seq})
	}
	req, _ := json.Marshal(q)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := transport.Request(ctx, r.cfg.Host, p, SyncProtocol, req, MaxResponseBytes)
	if err != nil {
		return 0, err
	}
	r.stats.bytes.WithLabelValues("received").Add(float64(len(resp)))
	batches, decoded, err := decodeResponse(resp)
	if err != nil {
		r.reject(p, storage.Stream{}, "malformed", err)
		return 0, err
	}
	r.stats.bytes.WithLabelValues("received_decoded").Add(float64(decoded))
	applied := 0
	for _, b := range batches {
		n, err := r.apply(ctx, p, b, heads)
		applied += n
		if err != nil && ctx.Err() != nil {
			return applied, err
		}
	}
	r.mu.Lock()
	r.mu.lastSync[p] = time.Now()
	r.mu.Unlock()
	return applied, nil
}

// apply verifies one batch and applies the ops this node lacks.
func (r *Replicator) apply(ctx context.Context, from peer.ID, b batch, heads map[storage.Stream]storage.Head) (int, error) {
	st := storage.Stream{Dataset: b.Head.Dataset, Origin: b.Head.Origin}
	if r.isQuarantined(from, st) || r.isFrozen(st) {
		return 0, nil
	}
	v := r.cfg.Meta.View()
	origin := v.Member(st.Origin)
	if origin == nil {
		return 0, r.reject(from, st, "unknown_origin", fmt.Errorf("origin %q is not a member", st.Origin))
	}
	id, err := peer.Decode(origin.PeerID)
	if err == nil {
		err = b.Head.Verify(id)
	}
	if err != nil {
		return 0, r.reject(from, st, "signature", err)
	}
	head := heads[st]
	if uint64(len(b.Ops)) > b.Head.Seq {
		return 0, r.reject(from, st, "malformed", fmt.Errorf("%d ops end at seq %d", len(b.Ops), b.Head.Seq))
	}
	if len(b.Ops) == 0 {
		return 0, nil
	}
	first := b.Head.Seq - uint64(len(b.Ops)) + 1
	// Ops this node has must be the very same: anything else, signed by the
	// origin, is a fork.
	if hashOp(b.Ops[len(b.Ops)-1]) != b.Head.Hash {
		return 0, r.reject(from, st, "chain", fmt.Errorf("last op does not hash to the signed head %d", b.Head.Seq))
	}
	if ev, err := r.checkFork(from, st, first, head.Seq, b.Ops); err != nil {
		return 0, err
	} else if ev != nil {
		if err := r.verifyChain(st, first, b.Ops); err != nil {
			return 0, r.reject(from, st, "chain", err) // not signed: no proof, just a bad batch
		}
		if err := r.freeze(ev); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("fork in %s/%s at seq %d", st.Dataset, st.Origin, ev.Seq)
	}
	if b.Head.Seq <= head.Seq {
		return 0, nil // nothing new
	}
	if first > head.Seq+1 {
		return 0, r.reject(from, st, "gap", fmt.Errorf("batch starts at %d, this node is at %d", first, head.Seq))
	}
	// Decode the ops this node lacks and check they chain from its head to
	// the signed hash.
	prev := head.Hash
	var ops []*crdt.Op
	for i, enc := range b.Ops {
		seq := first + uint64(i)
		if seq <= head.Seq {
			continue
		}
		op, err := crdt.DecodeOp(enc)
		if err != nil {
			return 0, r.reject(from, st, "malformed", err)
		}
		if op.Dataset != st.Dataset || op.Origin != st.Origin || op.Seq != seq || op.Prev != prev {
			return 0, r.reject(from, st, "chain", fmt.Errorf("op %d does not continue the stream", seq))
		}
		prev = hashOp(enc)
		ops = append(ops, op)
	}
	if prev != b.Head.Hash {
		return 0, r.reject(from, st, "chain", fmt.Errorf("ops do not hash to the signed head %d", b.Head.Seq))
	}
	err = r.cfg.Engine.ApplyRemote(ctx, ops, func(tx *storage.Txn) {
		if st.Origin != r.cfg.Self {
			tx.PutLocal(sigKey(st, b.Head.Seq), b.Head.Sig)
		}
	})
	if err != nil {
		var re *data.RemoteError
		if errors.As(err, &re) && re.Reason == data.MetadataAhead {
			r.cfg.Logger.Debug("sync: ops wait for metadata", "dataset", st.Dataset, "origin", st.Origin, "err", err)
			return 0, nil
		}
		if errors.As(err, &re) {
			return 0, r.reject(from, st, re.Reason, err)
		}
		return 0, err
	}
	r.stats.applied.WithLabelValues(st.Dataset).Add(float64(len(ops)))
	return len(ops), nil
}

func (r *Replicator) reject(from peer.ID, st storage.Stream, reason string, err error) error {
	r.stats.rejected.WithLabelValues(reason).Inc()
	r.cfg.Logger.Warn("sync: batch rejected; stream quarantined", "peer", from, "dataset", st.Dataset,
		"origin", st.Origin, "reason", reason, "err", err)
	if st.Dataset != "" {
		r.mu.Lock()
		r.mu.quarantine[quarantineKey{from, st.Dataset, st.Origin}] = quarantined{reason, time.Now().Add(r.cfg.QuarantineFor)}
		r.mu.Unlock()
	}
	return fmt.Errorf("%s: %w", reason, err)
}

func (r *Replicator) isQuarantined(p peer.ID, st storage.Stream) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.mu.quarantine[quarantineKey{p, st.Dataset, st.Origin}]
	return ok && time.Now().Before(q.until)
}

// Quarantined lists the streams ignored from some peer, for status.
func (r *Replicator) Quarantined() []QuarantinedStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []QuarantinedStream
	for k, q := range r.mu.quarantine {
		if time.Now().Before(q.until) {
			out = append(out, QuarantinedStream{Peer: k.peer.String(), Dataset: k.dataset, Origin: k.origin, Reason: q.reason, Until: q.until})
		}
	}
	return out
}

// verifyChain checks that ops (from seq first) chain to each other, so the
// signature on the last covers them all.
func (r *Replicator) verifyChain(st storage.Stream, first uint64, ops [][]byte) error {
	for i := 1; i < len(ops); i++ {
		op, err := crdt.DecodeOp(ops[i])
		if err != nil {
			return err
		}
		if op.Prev != hashOp(ops[i-1]) {
			return fmt.Errorf("op %d does not chain to op %d", first+uint64(i), first+uint64(i)-1)
		}
	}
	return nil
}

// ReaderLag is how far a reader was behind this node at its last pull.
type ReaderLag struct {
	Dataset  string    `json:"dataset"`
	Reader   string    `json:"reader"`
	Ops      uint64    `json:"ops_behind"`
	LastPull time.Time `json:"last_pull,omitzero"`
}

// Lag reports, for each dataset this node holds and each of its readers that
// pulled from this node, the ops it lacked at its last pull.
func (r *Replicator) Lag() []ReaderLag {
	v := r.cfg.Meta.View()
	heads, err := r.cfg.Store.Heads("")
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ReaderLag
	for _, ds := range v.Datasets() {
		for _, reader := range append([]string{ds.Owner}, ds.Readers...) {
			a, ok := r.mu.acked[reader]
			if !ok || reader == r.cfg.Self {
				continue
			}
			var behind uint64
			for st, h := range heads {
				if st.Dataset == ds.Name && h.Seq > a.seqs[st] {
					behind += h.Seq - a.seqs[st]
				}
			}
			r.stats.lag.WithLabelValues(ds.Name, reader).Set(float64(behind))
			out = append(out, ReaderLag{Dataset: ds.Name, Reader: reader, Ops: behind, LastPull: a.at})
		}
	}
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
