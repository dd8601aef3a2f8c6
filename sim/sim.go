package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/meta"
)

// epoch is the wall time at which every simulation starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options are the settings of a run beyond its scenario.
type Options struct {
	Seed uint64
	// Logger receives the nodes' logs; nil discards them.
	Logger *slog.Logger
	// Samples is the number of points of the lag and convergence series
	// in the report; zero means 200.
	Samples int
}

// Sim is one deterministic run of a scenario: the same scenario and seed
// give the same events in the same order, the same trace hash and the same
// final digests. It runs in one goroutine; the stores' own goroutines only
// serve calls it waits for.
type Sim struct {
	sc     *Scenario
	opts   Options
	rng    *rand.Rand
	ctx    context.Context
	logger *slog.Logger

	now    time.Duration // simulated time since epoch
	queue  events
	seq    uint64
	events int

	topo   *topology
	nodes  []*node
	byName map[string]*node
	byID   map[peer.ID]*node
	net    netState
	ctl    control
	work   *workload
	trace  hash.Hash
	stats  Stats
	series []Sample
	healed time.Duration // when the final heal happened
	// heals are when network faults ended; converged, how long after each
	// the replicas converged (one probe at a time: a heal during a probe
	// is measured from its own time by the same probe).
	heals     []time.Duration
	converged []time.Duration
	probing   bool
	// midrun are invariant violations seen during the run.
	midrun  []string
	digests map[string]string
}

// Stats are counters of a run.
type Stats struct {
	Events     int `json:"events"`
	Writes     int `json:"writes_acked"`
	Refused    int `json:"writes_refused"` // by the node (not the owner in its metadata, ...)
	Pulls      int `json:"pulls"`          // pull requests sent: each round of a pull counts
	PullErrors int `json:"pull_errors"`
	Applied    int `json:"ops_applied"`    // replicated ops applied, over all nodes
	Pushed     int `json:"batches_pushed"` // push batches delivered
	Lost       int `json:"messages_lost"`
	Duplicated int `json:"answers_duplicated"`
	Crashes    int `json:"crashes"`
	// CrashesUnsynced are the crashes that took back replicated ops the
	// node had applied and not yet synced.
	CrashesUnsynced int   `json:"crashes_unsynced"`
	Bytes           int64 `json:"bytes_on_the_wire"`
}

// New prepares a run: nodes with their stores, the initial metadata on
// every node, the workload and the scenario's events.
func New(sc *Scenario, opts Options) (*Sim, error) {
	if opts.Samples == 0 {
		opts.Samples = 200
	}
	s := &Sim{sc: sc, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x6c69656e74686f6e)), ctx: context.Background(),
		logger: opts.Logger, byName: map[string]*node{}, byID: map[peer.ID]*node{}, trace: sha256.New()}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	topo, err := buildTopology(sc.Topology, sc.Workload, sc.Districts)
	if err != nil {
		return nil, err
	}
	s.topo = topo
	keys := rand.NewChaCha8(seedBytes(opts.Seed))
	for i, spec := range topo.Nodes {
		key, _, err := crypto.GenerateEd25519Key(keys)
		if err != nil {
			return nil, err
		}
		id, _ := peer.IDFromPrivateKey(key)
		n := &node{s: s, idx: i, spec: spec, key: key, id: id, fs: vfs.NewCrashableMem(), slow: 1}
		n.meta = &nodeMeta{n: n}
		n.meta.view.Store(meta.EmptyView())
		s.nodes = append(s.nodes, n)
		s.byName[spec.Name], s.byID[id] = n, n
	}
	if err := s.bootstrap(); err != nil {
		return nil, err
	}
	for _, n := range s.nodes {
		if err := n.start(); err != nil {
			return nil, err
		}
		s.deliver(n)
		s.tick(n, time.Duration(s.rng.Int64N(int64(sc.Network.SyncEvery))))
	}
	if s.work, err = newWorkload(s); err != nil {
		return nil, err
	}
	if err := s.scheduleEvents(); err != nil {
		return nil, err
	}
	return s, nil
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	copy(b[8:], "lienthong simulated identities")
	return b
}

// bootstrap writes the federation's first metadata: members, the entity
// types the datasets use, the datasets.
func (s *Sim) bootstrap() error {
	s.ctl.view = meta.EmptyView()
	// The first seed bootstraps, as lienthong init does: it admits itself
	// first, then everything else, with a seed's authority.
	first := s.seeds()[0]
	add := func(c meta.Command) error {
		c.At, c.By = s.wall(), first.id.String()
		s.ctl.log = append(s.ctl.log, c)
		next, err := s.ctl.view.ApplyAuthorized(uint64(len(s.ctl.log)), c)
		if err != nil {
			return fmt.Errorf("sim: bootstrap %s: %w", c.Op, err)
		}
		s.ctl.view = next
		s.recordMeta(c)
		return nil
	}
	for _, n := range append([]*node{first}, slices.DeleteFunc(slices.Clone(s.nodes), func(n *node) bool { return n == first })...) {
		role := "member"
		if n.spec.Kind == kindSeed {
			role = "seed"
		}
		if err := add(meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: n.spec.Name, Role: role, PeerID: n.id.String()}}); err != nil {
			return err
		}
	}
	types, err := examples.EntityTypes()
	if err != nil {
		return err
	}
	for _, t := range types {
		if err := add(meta.Command{Op: meta.OpPutType, Type: t}); err != nil {
			return err
		}
	}
	for _, d := range s.topo.Datasets {
		if err := add(meta.Command{Op: meta.OpPutDataset, Dataset: d.Dataset}); err != nil {
			return err
		}
	}
	return nil
}

// wall is the simulated wall time.
func (s *Sim) wall() time.Time { return epoch.Add(s.now) }

// event is something scheduled at a simulated time.
type event struct {
	at   time.Duration
	seq  uint64
	kind string
	n, p *node // the node it happens at, and the peer involved (or nil)
	fn   func() string
}

type events []*event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// after schedules fn d from now. fn returns what the trace records of it.
func (s *Sim) after(d time.Duration, kind string, n, p *node, fn func() string) {
	s.seq++
	heap.Push(&s.queue, &event{at: s.now + max(d, 0), seq: s.seq, kind: kind, n: n, p: p, fn: fn})
}

// record adds one line to the trace.
func (s *Sim) record(kind string, n, p *node, result string) {
	name, peerName := "-", "-"
	if n != nil {
		name = n.spec.Name
	}
	if p != nil {
		peerName = p.spec.Name
	}
	fmt.Fprintf(s.trace, "%d %s %s %s %s\n", s.now, kind, name, peerName, result)
}

// runUntil processes events up to simulated time end.
func (s *Sim) runUntil(end time.Duration) {
	for s.queue.Len() > 0 && s.queue[0].at <= end {
		e := heap.Pop(&s.queue).(*event)
		s.now = e.at
		s.events++
		s.record(e.kind, e.n, e.p, e.fn())
	}
	s.now = end
}

// TraceHash is the hash of every event of the run so far.
func (s *Sim) TraceHash() string { return hex.EncodeToString(s.trace.Sum(nil)) }

// Close closes every store.
func (s *Sim) Close() {
	for _, n := range s.nodes {
		if n.up {
			n.st.Close()
			n.up = false
		}
	}
}
