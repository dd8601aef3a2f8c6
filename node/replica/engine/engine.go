package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Dataset is what the engine knows of a dataset from the metadata.
type Dataset struct {
	Name       string
	Owner      string
	Readers    []string
	PastOwners []string
}

// CanRead reports whether member m may read the dataset.
func (d Dataset) CanRead(m string) bool { return d.Owner == m || slices.Contains(d.Readers, m) }

// MsgType is the kind of a Message.
type MsgType int

// The messages a driver steps into the engine.
const (
	// MsgMeta: the metadata changed; Members and Datasets are all of it.
	MsgMeta MsgType = iota + 1
	// MsgConnected: Peers are the members with a link up now.
	MsgConnected
	// MsgChanged: changes of the datasets Names became durable here (own
	// writes or applied ops); their readers are to be told.
	MsgChanged
	// MsgNotified: member From holds ops this node lacks.
	MsgNotified
	// MsgPullDone: the answer of a Pull request to From was applied:
	// Applied ops, Names the datasets whose snapshot From (their owner)
	// sends instead of ops; Err when the request or the batch failed.
	MsgPullDone
	// MsgSnapshotDone: a chunk of the snapshot of dataset Names[0] from
	// From was applied; More when chunks follow; Err when it failed (a
	// transfer that applied a chunk resumes at the next pull from From).
	MsgSnapshotDone
	// MsgPending: the store holds unfinished snapshot transfers of the
	// datasets Names from From (told once at start).
	MsgPending
	// MsgPurged: a purge ran; Deferred when a dataset waits for its new
	// owner to pull this node's ops, so the purge is retried each tick.
	MsgPurged
	// MsgUnsubscribed: the subscription to From ended (an error, a gap,
	// a batch that could not be applied in full, a disconnect): this node
	// repairs by a pull from From and subscribes again at the next tick.
	MsgUnsubscribed
	// MsgSubscribers: Peers are the members holding a subscription to
	// this node now; they get what changes by push, not notifications.
	MsgSubscribers
)

// Message is one input of the engine.
type Message struct {
	Type     MsgType
	From     string
	Members  []string  // MsgMeta: every member but this node
	Datasets []Dataset // MsgMeta
	Peers    []string  // MsgConnected, MsgSubscribers
	Names    []string  // datasets, see MsgType
	Applied  int
	More     bool
	Err      bool
	Deferred bool
}

// Kind is the kind of a Request.
type Kind int

// The requests of a Ready.
const (
	// Pull: send To this node's version vector; answer with MsgPullDone.
	Pull Kind = iota + 1
	// Snapshot: ask To for the next chunk of Dataset's snapshot (the
	// first of a transfer, or of its resumption, when First); answer with
	// MsgSnapshotDone.
	Snapshot
)

// Request is a request the driver sends and whose outcome it steps back.
type Request struct {
	Kind    Kind
	To      string
	Dataset string // Snapshot
	First   bool   // Snapshot
}

// Notification tells member To that this node holds new ops of Datasets
// (only datasets To may read). No answer is stepped back.
type Notification struct {
	To       string
	Datasets []string
}

// Ready is what the driver is to do. Slices are the driver's.
type Ready struct {
	Requests      []Request
	Notifications []Notification
	// Dial lists the members without a link, to connect to (each tick).
	Dial []string
	// Purge: drop the datasets this node may no longer read, then step
	// MsgPurged.
	Purge bool
	// Truncate: drop the op history every reader has.
	Truncate bool
	// Subscribe lists the members to open a subscription to (streaming
	// replication, Config.Push): one per source, held until Unsubscribe
	// names it or MsgUnsubscribed says it ended.
	Subscribe []string
	// Unsubscribe lists the members whose subscription to close (no longer
	// the source of any dataset, or disconnected).
	Unsubscribe []string
}

func (rd Ready) empty() bool {
	return len(rd.Requests) == 0 && len(rd.Notifications) == 0 && len(rd.Dial) == 0 && !rd.Purge && !rd.Truncate &&
		len(rd.Subscribe) == 0 && len(rd.Unsubscribe) == 0
}

// Config configures an Engine. Zero values mean the defaults given.
type Config struct {
	Self string // this member's name
	// MaxRounds bounds the pull rounds of one pull from one member; zero
	// means 64.
	MaxRounds int
	// TruncateTicks is the number of ticks between truncations; zero
	// means 1.
	TruncateTicks int
	// MaxBackoffTicks bounds the ticks a member whose pull failed is
	// skipped by anti-entropy: one less than its consecutive failures, up
	// to this; zero means 2, negative never skips.
	MaxBackoffTicks int
	// Push makes the engine hold a subscription to the source of each
	// dataset it reads (its owner when connected, else one holder), so
	// that ops come as soon as they are durable there; pulls then only
	// repair. False: notifications and pulls only.
	Push bool
	// SubscribedPullTicks: anti-entropy pulls from a member this node is
	// subscribed to only every this many ticks, since its stream carries
	// what changes there (the pull is the safety net); zero means 10.
	SubscribedPullTicks int
}

// pull is a pull from one member in flight.
type pull struct {
	rounds int      // pull rounds sent
	snaps  []string // datasets to fetch a snapshot of before the next round
	first  bool     // the next snapshot request starts (or resumes) a transfer
	again  bool     // notified meanwhile: pull again when done
}

// Engine schedules replication. It is not safe for concurrent use: one
// driver goroutine calls all of its methods.
type Engine struct {
	cfg       Config
	members   []string
	datasets  []Dataset
	conn      map[string]bool
	pulls     map[string]*pull
	pending   map[string]string // dataset -> source of an unfinished snapshot
	fails     map[string]int
	skip      map[string]int // member -> tick up to which anti-entropy skips it
	held      map[string]bool
	subs      map[string]bool // members subscribed to
	subbers   map[string]bool // members subscribed to this node
	cool      map[string]bool // members whose subscription ended this tick
	tick      int
	round     int
	lastTrunc int
	retry     bool // a deferred purge is retried at the next tick

	rd       Ready
	advanced bool
}

// New returns an engine that knows no member yet.
func New(cfg Config) *Engine {
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = 64
	}
	if cfg.TruncateTicks == 0 {
		cfg.TruncateTicks = 1
	}
	if cfg.MaxBackoffTicks == 0 {
		cfg.MaxBackoffTicks = 2
	}
	if cfg.SubscribedPullTicks == 0 {
		cfg.SubscribedPullTicks = 10
	}
	return &Engine{cfg: cfg, conn: map[string]bool{}, pulls: map[string]*pull{}, pending: map[string]string{},
		fails: map[string]int{}, skip: map[string]int{}, held: map[string]bool{},
		subs: map[string]bool{}, subbers: map[string]bool{}, cool: map[string]bool{}, advanced: true}
}

// Tick advances time by one anti-entropy interval: it pulls from every
// source (one subscribed to every SubscribedPullTicks), dials the members without a link, retries a deferred purge,
// truncates every TruncateTicks and sends the notifications held back.
func (e *Engine) Tick() {
	e.tick++
	for _, p := range e.sources() {
		streamed := e.subs[p] && e.tick%e.cfg.SubscribedPullTicks != 0
		if e.tick > e.skip[p] && e.pulls[p] == nil && !streamed {
			e.startPull(p) // a pull in flight goes on: only a notification makes it go again
		}
	}
	for _, m := range e.members {
		if !e.conn[m] {
			e.rd.Dial = append(e.rd.Dial, m)
		}
	}
	if e.retry {
		e.retry = false
		e.rd.Purge = true
	}
	clear(e.cool)
	if e.cfg.Push {
		e.subscribe()
	}
	if e.tick-e.lastTrunc >= e.cfg.TruncateTicks {
		e.lastTrunc = e.tick
		e.rd.Truncate = true
	}
	e.flush()
}

// Step takes one message. A message of an unknown type is a broken
// invariant of the driver: Step panics.
func (e *Engine) Step(m Message) {
	switch m.Type {
	case MsgMeta:
		e.members = slices.DeleteFunc(slices.Clone(m.Members), func(s string) bool { return s == e.cfg.Self })
		slices.Sort(e.members)
		e.datasets = slices.Clone(m.Datasets)
		slices.SortFunc(e.datasets, func(a, b Dataset) int { return strings.Compare(a.Name, b.Name) })
		e.rd.Purge = true
		if e.cfg.Push {
			e.subscribe()
		}
	case MsgConnected:
		clear(e.conn)
		for _, p := range m.Peers {
			e.conn[p] = true
		}
		if e.cfg.Push {
			e.subscribe()
		}
	case MsgChanged:
		for _, d := range m.Names {
			e.held[d] = true
		}
		if len(e.pulls) == 0 {
			e.flush()
		}
	case MsgNotified:
		e.startPull(m.From)
	case MsgPullDone:
		e.pullDone(m)
	case MsgSnapshotDone:
		e.snapshotDone(m)
	case MsgPending:
		for _, d := range m.Names {
			e.pending[d] = m.From
		}
	case MsgPurged:
		e.retry = m.Deferred
	case MsgUnsubscribed:
		if e.subs[m.From] {
			delete(e.subs, m.From)
			e.cool[m.From] = true
			e.startPull(m.From)
		}
	case MsgSubscribers:
		clear(e.subbers)
		for _, p := range m.Peers {
			e.subbers[p] = true
		}
	default:
		panic(fmt.Sprintf("engine: message of unknown type %d", m.Type))
	}
}

// HasReady reports whether Ready has something to do.
func (e *Engine) HasReady() bool { return !e.rd.empty() }

// Ready returns what the driver is to do and forgets it; messages stepped
// while the driver executes it go into the next one. REQUIRES: the previous
// Ready was advanced.
func (e *Engine) Ready() Ready {
	if !e.advanced {
		panic("engine: Ready before Advance of the previous Ready")
	}
	rd := e.rd
	e.rd = Ready{}
	e.advanced = false
	return rd
}

// Advance tells the engine the last Ready was executed.
func (e *Engine) Advance() { e.advanced = true }

// sources returns the members to pull from at this tick: for each dataset
// this node reads, its owner if connected, else one of the connected
// members that may hold it (readers, past owners), taken in turn tick after
// tick so that no one relay is relied on for ever.
func (e *Engine) sources() []string {
	e.round++
	chosen := map[string]bool{}
	self := e.cfg.Self
	for _, ds := range e.datasets {
		if !ds.CanRead(self) || ds.Owner == self && len(ds.PastOwners) == 0 {
			continue // the owner of a dataset no one else wrote has all of it
		}
		if ds.Owner != self && e.conn[ds.Owner] {
			chosen[ds.Owner] = true
			continue
		}
		var cands []string
		for _, name := range append(append([]string{ds.Owner}, ds.Readers...), ds.PastOwners...) {
			if name != self && e.conn[name] && !slices.Contains(cands, name) {
				cands = append(cands, name)
			}
		}
		if len(cands) > 0 {
			slices.Sort(cands)
			chosen[cands[e.round%len(cands)]] = true
		}
	}
	return slices.Sorted(maps.Keys(chosen))
}

// subscribe opens a subscription to each member that is the stream source
// of a dataset and closes the others, at each tick and as soon as the
// metadata or the links change; one whose subscription ended waits for the
// next tick. The stream source of a dataset is its owner when connected,
// else the first connected holder by name: the same one tick after tick,
// since a stream lives long.
func (e *Engine) subscribe() {
	want := map[string]bool{}
	self := e.cfg.Self
	for _, ds := range e.datasets {
		if !ds.CanRead(self) || ds.Owner == self {
			continue
		}
		if e.conn[ds.Owner] {
			want[ds.Owner] = true
			continue
		}
		var cands []string
		for _, name := range append(slices.Clone(ds.Readers), ds.PastOwners...) {
			if name != self && e.conn[name] {
				cands = append(cands, name)
			}
		}
		if len(cands) > 0 {
			want[slices.Min(cands)] = true
		}
	}
	for _, m := range slices.Sorted(maps.Keys(e.subs)) {
		if !want[m] {
			delete(e.subs, m)
			e.rd.Unsubscribe = append(e.rd.Unsubscribe, m)
		}
	}
	for _, m := range slices.Sorted(maps.Keys(want)) {
		if !e.subs[m] && !e.cool[m] {
			e.subs[m] = true
			e.rd.Subscribe = append(e.rd.Subscribe, m)
		}
	}
}

// startPull starts a pull from p, or marks the one in flight to go again.
func (e *Engine) startPull(p string) {
	if p == e.cfg.Self || !slices.Contains(e.members, p) {
		return
	}
	if pl := e.pulls[p]; pl != nil {
		pl.again = true
		return
	}
	pl := &pull{first: true}
	for _, ds := range e.datasets {
		if e.pending[ds.Name] == p && ds.Owner == p && ds.CanRead(e.cfg.Self) {
			pl.snaps = append(pl.snaps, ds.Name) // resume the transfer
		}
	}
	e.pulls[p] = pl
	e.next(p, pl)
}

// next sends the next request of the pull from p, or ends it.
func (e *Engine) next(p string, pl *pull) {
	switch {
	case len(pl.snaps) > 0:
		e.rd.Requests = append(e.rd.Requests, Request{Kind: Snapshot, To: p, Dataset: pl.snaps[0], First: pl.first})
		pl.first = false
	case pl.rounds < e.cfg.MaxRounds:
		pl.rounds++
		e.rd.Requests = append(e.rd.Requests, Request{Kind: Pull, To: p})
	default:
		e.endPull(p, pl)
	}
}

func (e *Engine) endPull(p string, pl *pull) {
	delete(e.pulls, p)
	if pl.again {
		e.startPull(p)
	}
	if len(e.pulls) == 0 {
		e.flush()
	}
}

func (e *Engine) failed(p string, pl *pull) {
	e.fails[p]++
	if e.cfg.MaxBackoffTicks > 0 {
		e.skip[p] = e.tick + min(e.fails[p]-1, e.cfg.MaxBackoffTicks)
	}
	e.endPull(p, pl)
}

func (e *Engine) pullDone(m Message) {
	pl := e.pulls[m.From]
	if pl == nil {
		return // an answer to a pull the engine no longer waits for
	}
	if m.Err {
		e.failed(m.From, pl)
		return
	}
	delete(e.fails, m.From)
	for _, d := range m.Names {
		if !slices.Contains(pl.snaps, d) {
			pl.snaps = append(pl.snaps, d)
			pl.first = true
		}
	}
	if m.Applied == 0 && len(m.Names) == 0 {
		e.endPull(m.From, pl)
		return
	}
	e.next(m.From, pl)
}

func (e *Engine) snapshotDone(m Message) {
	pl := e.pulls[m.From]
	if pl == nil || len(pl.snaps) == 0 || len(m.Names) != 1 || pl.snaps[0] != m.Names[0] {
		return
	}
	ds := m.Names[0]
	if m.More {
		e.pending[ds] = m.From
	} else if !m.Err {
		delete(e.pending, ds)
	}
	if m.Err {
		e.failed(m.From, pl)
		return
	}
	if !m.More {
		pl.snaps = pl.snaps[1:]
		pl.first = true
	}
	e.next(m.From, pl)
}

// flush sends the notifications held back: to each connected member that
// may read some of the datasets, those it may read, but not to a member
// subscribed to this node (it gets them pushed).
func (e *Engine) flush() {
	if len(e.held) == 0 {
		return
	}
	for _, m := range e.members {
		if !e.conn[m] || e.subbers[m] {
			continue
		}
		var names []string
		for _, ds := range e.datasets {
			if e.held[ds.Name] && ds.CanRead(m) {
				names = append(names, ds.Name)
			}
		}
		if len(names) > 0 {
			e.rd.Notifications = append(e.rd.Notifications, Notification{To: m, Datasets: names})
		}
	}
	clear(e.held)
}
