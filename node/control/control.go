package control

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/raftlayer"
)

// ProposeProtocol carries a proposal from any node to the leader;
// ReadIndexProtocol asks the leader for an index that a linearizable read
// must wait for.
const (
	ProposeProtocol   = "/lienthong/meta/propose/1.0.0"
	ReadIndexProtocol = "/lienthong/meta/readindex/1.0.0"
)

// keySavedView is the node-local key of the last applied metadata.
const keySavedView = "meta/raft-view"

// ErrNoQuorum is returned by Propose when no leader with a quorum of seeds
// could commit the command in time. Metadata is read-only until the seeds
// are back; reads keep serving the last applied view.
var ErrNoQuorum = errors.New("control: no quorum of seeds; metadata is read-only")

// Liveness reports what gossip knows of a member, for error messages.
type Liveness func(name string) (state string, since time.Time, ok bool)

// Config configures a Control.
type Config struct {
	// Self is this node as a member (name, role, peer ID).
	Self meta.Member
	// Host is the libp2p host; Raft and proposals run over its streams.
	Host host.Host
	// Logs and Stable hold Raft's log and state; Snapshots its snapshots.
	Logs      raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	// Store keeps the last applied metadata under the local key
	// "meta/raft-view", so a restarted node serves it before it reaches a
	// leader. Nil keeps nothing (tests).
	Store *storage.Store
	// Bootstrap creates a new federation with Self as its only voter, if
	// this node has no Raft state yet. Only the first seed does it, once.
	Bootstrap bool
	// RecoverVoters, if set, names the seeds (this one among them) that
	// make up the Raft group from now on: the way out of a lost quorum, when
	// most seeds are gone for good (the equivalent of Consul's peers.json).
	// Before Raft starts, the configuration in this node's log is replaced
	// by these voters (raft.RecoverCluster). Every surviving seed must be
	// started once with the same list, the others stopped.
	RecoverVoters []string
	// ProposeTimeout bounds a proposal without its own deadline; zero means 5 s.
	ProposeTimeout time.Duration
	// Raft timings; zero means hashicorp/raft's defaults (1 s heartbeat and
	// election timeouts, 500 ms leader lease, 50 ms commit timeout: how long
	// an idle leader waits before telling followers the commit index).
	// Tests shorten them.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// Liveness, if set, names unreachable seeds in ErrNoQuorum messages.
	Liveness Liveness
	// Progress reports the metadata index a member has applied (from
	// gossip). A new seed joins as a non-voter and is promoted to voter once
	// it is alive and caught up, so that admitting a seed that is not yet
	// running never costs the quorum. Nil: seeds are never promoted.
	Progress func(name string) (metaIndex uint64, ok bool)
	// Registerer receives the control plane's metrics
	// (lienthong_meta_proposals_refused_total); nil registers nowhere.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Control runs the metadata Raft group on this node. It implements meta.Store.
type Control struct {
	cfg   Config
	fsm   *fsm
	raft  *raft.Raft
	trans *raft.NetworkTransport
	stop  chan struct{}
	wg    sync.WaitGroup
	// readyTerm is the term in which this node, as leader, committed a
	// barrier: from then on its commit index is current.
	readyTerm atomic.Uint64
}

var _ meta.Store = (*Control)(nil)

// New starts Raft on this node. Call Close to stop it.
func New(cfg Config) (*Control, error) {
	if cfg.ProposeTimeout == 0 {
		cfg.ProposeTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Self.PeerID)
	rc.Logger = HCLogger(cfg.Logger, "raft")
	rc.SnapshotThreshold = 1024
	rc.TrailingLogs = 4096
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	}
	if cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.ElectionTimeout
	}
	if cfg.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	}
	if cfg.CommitTimeout > 0 {
		rc.CommitTimeout = cfg.CommitTimeout
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lienthong_meta_proposals_refused_total",
		Help: "Metadata commands refused because their proposer lacked the authority, by op: " +
			"counted by this node's state machine as it applies the refused entry (so on every replica), " +
			"and when this node turns away a proposal from a peer that is not a member.",
	}, []string{"op"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(refused); err != nil {
			return nil, fmt.Errorf("control: metrics: %w", err)
		}
	}
	c := &Control{cfg: cfg, fsm: newFSM(cfg.Logger, refused), stop: make(chan struct{})}
	if st := cfg.Store; st != nil {
		switch b, err := st.GetLocal(keySavedView); {
		case err == nil:
			if err := c.fsm.load(b); err != nil {
				return nil, fmt.Errorf("control: %w", err)
			}
		case !errors.Is(err, storage.ErrNotFound):
			return nil, fmt.Errorf("control: %w", err)
		}
		c.fsm.save = func(applied uint64, v *meta.View, recent []string) error {
			b, err := encodePersisted(applied, v, recent)
			if err != nil {
				return err
			}
			return st.Update(context.Background(), func(tx *storage.Txn) error {
				tx.PutLocal(keySavedView, b)
				return nil
			})
		}
	}
	c.trans = raftlayer.NewTransport(cfg.Host, 3, 10*time.Second, rc.Logger)
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(cfg.Logs, cfg.Stable, cfg.Snapshots)
		if err != nil {
			return nil, fmt.Errorf("control: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(cfg.Self.PeerID)}}}
			if err := raft.BootstrapCluster(rc, cfg.Logs, cfg.Stable, cfg.Snapshots, c.trans, conf); err != nil {
				return nil, fmt.Errorf("control: bootstrap: %w", err)
			}
		}
	}
	if len(cfg.RecoverVoters) > 0 {
		if err := c.recover(rc); err != nil {
			c.trans.Close()
			return nil, err
		}
	}
	r, err := raft.NewRaft(rc, c.fsm, cfg.Logs, cfg.Stable, cfg.Snapshots, c.trans)
	if err != nil {
		c.trans.Close()
		return nil, fmt.Errorf("control: start raft: %w", err)
	}
	c.raft = r
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(raftCollector{r}); err != nil {
			return nil, errors.Join(fmt.Errorf("control: metrics: %w", err), r.Shutdown().Error(), c.trans.Close())
		}
	}
	transport.Handle(cfg.Host, ProposeProtocol, 4<<20, 30*time.Second, c.handlePropose)
	transport.Handle(cfg.Host, ReadIndexProtocol, 16, 10*time.Second, c.handleReadIndex)
	c.wg.Add(1)
	go c.upkeep()
	return c, nil
}

// recover replaces the Raft configuration by cfg.RecoverVoters, named in
// this node's saved view of the metadata.
func (c *Control) recover(rc *raft.Config) error {
	v := c.fsm.view.Load()
	conf := raft.Configuration{}
	self := false
	for _, name := range c.cfg.RecoverVoters {
		m := v.Member(name)
		if m == nil || m.Role != "seed" {
			return fmt.Errorf("control: recover: %q is not a seed in this node's metadata (index %d); name the surviving seeds, this one included", name, v.Index)
		}
		self = self || m.PeerID == c.cfg.Self.PeerID
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.PeerID), Address: raft.ServerAddress(m.PeerID)})
	}
	if !self {
		return fmt.Errorf("control: recover: the voters %v do not include this seed (%s)", c.cfg.RecoverVoters, c.cfg.Self.Name)
	}
	// RecoverCluster replays the log into a state machine of its own to
	// snapshot it; this node's is loaded again by NewRaft.
	scratch := newFSM(c.cfg.Logger, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scratch"}, []string{"op"}))
	if err := raft.RecoverCluster(rc, scratch, c.cfg.Logs, c.cfg.Stable, c.cfg.Snapshots, c.trans, conf); err != nil {
		return fmt.Errorf("control: recover the Raft configuration: %w", err)
	}
	c.cfg.Logger.Warn("raft: configuration recovered: the seeds not named no longer vote; remove them from the member list (lienthong member remove) or admit replacements",
		"voters", c.cfg.RecoverVoters, "meta_index", v.Index)
	return nil
}

// Close stops Raft and the upkeep loop.
func (c *Control) Close() error {
	close(c.stop)
	c.cfg.Host.RemoveStreamHandler(ProposeProtocol)
	c.cfg.Host.RemoveStreamHandler(ReadIndexProtocol)
	err := c.raft.Shutdown().Error()
	c.wg.Wait()
	return errors.Join(err, c.trans.Close())
}

// View returns the last applied metadata.
func (c *Control) View() *meta.View { return c.fsm.view.Load() }

// Changed returns a channel closed when the next log entry is applied.
func (c *Control) Changed() <-chan struct{} { return c.fsm.Changed() }

// proposeResult is the answer of the leader to a forwarded proposal.
type proposeResult struct {
	Index uint64 `json:"index"`
	// Code is empty on success, else "not_leader", "no_quorum", or the
	// class of a failed check: "invalid", "conflict", "not_found",
	// "forbidden".
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Propose commits cmd through the leader, wherever it is, waits until this
// node has applied it, and returns the view that includes it. The command is
// this node's: By is always set to this node's peer ID, so a local caller
// (the operator at this node's API) has exactly this node's authority. A
// command that fails its checks returns the error the state machine gave,
// wrapping meta.ErrInvalid, meta.ErrConflict, meta.ErrNotFound or
// meta.ErrForbidden.
func (c *Control) Propose(ctx context.Context, cmd meta.Command) (*meta.View, error) {
	if cmd.At.IsZero() {
		cmd.At = time.Now().UTC()
	}
	cmd.By = c.cfg.Self.PeerID
	if cmd.ID == "" {
		cmd.ID = rand.Text() // the same for every retry below
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.ProposeTimeout)
		defer cancel()
	}
	for {
		res := c.proposeOnce(ctx, data)
		switch res.Code {
		case "":
			if err := c.WaitApplied(ctx, res.Index); err != nil {
				return nil, c.noQuorum(err)
			}
			return c.View(), nil
		case "not_leader", "no_quorum":
			select {
			case <-ctx.Done():
				return nil, c.noQuorum(ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		return nil, decodeError(res)
	}
}

// proposeOnce applies data if this node leads, or forwards it to the leader.
func (c *Control) proposeOnce(ctx context.Context, data []byte) proposeResult {
	if c.raft.State() == raft.Leader {
		return c.applyLocal(ctx, data)
	}
	_, leader := c.raft.LeaderWithID()
	if leader == "" {
		return proposeResult{Code: "no_quorum"}
	}
	id, err := peer.Decode(string(leader))
	if err != nil {
		return proposeResult{Code: "no_quorum"}
	}
	b, err := transport.Request(ctx, c.cfg.Host, id, ProposeProtocol, data, 1<<20)
	if err != nil {
		c.cfg.Logger.Debug("forward proposal", "leader", id, "err", err)
		return proposeResult{Code: "not_leader"}
	}
	var res proposeResult
	if err := json.Unmarshal(b, &res); err != nil {
		return proposeResult{Code: "not_leader"}
	}
	return res
}

func (c *Control) applyLocal(ctx context.Context, data []byte) proposeResult {
	timeout := time.Until(deadline(ctx))
	f := c.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return proposeResult{Code: "not_leader"}
		}
		return proposeResult{Code: "no_quorum", Message: err.Error()}
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return encodeError(err)
	}
	return proposeResult{Index: f.Index()}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// handlePropose takes a proposal forwarded by another node, stamps it with
// the proposer and applies it, or passes it on to the leader when this node
// is not it (a new member may know only one seed). The proposer is the
// authenticated peer of the stream, whatever By the request carries; only a
// seed passing on a proposal it took from another node names that node in
// By (a seed may propose anything itself, so it cannot widen anyone's
// authority). A peer that is not a member, or a member without the authority
// for the command on this node's view (meta.View.Authorize), is turned away
// before its proposal reaches the log; the state machine checks the
// authority again when it applies the command, against the view there.
func (c *Control) handlePropose(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	var cmd meta.Command
	if err := json.Unmarshal(req, &cmd); err != nil {
		return json.Marshal(proposeResult{Code: "invalid", Message: "undecodable proposal"})
	}
	v := c.View()
	proposer := from
	if m := v.Member(memberName(v, from)); m != nil && m.Role == "seed" && cmd.By != "" {
		if id, err := peer.Decode(cmd.By); err == nil {
			proposer = id
		}
	}
	if memberName(v, proposer) == "" {
		countRefused(c.fsm.refused, cmd.Op)
		c.cfg.Logger.Warn("metadata proposal refused: not a member", "op", cmd.Op, "by", proposer, "from", from)
		return json.Marshal(proposeResult{Code: "forbidden", Message: fmt.Sprintf(
			"%v: peer %s is not a member of the federation (at metadata index %d); proposals are accepted only from members",
			meta.ErrForbidden, proposer, v.Index)})
	}
	cmd.By = proposer.String()
	// Judged here too, on this node's view, so that a member without the
	// authority cannot fill the log with entries every replica refuses.
	// The state machine judges again where the command applies.
	if err := v.Authorize(cmd); err != nil {
		countRefused(c.fsm.refused, cmd.Op)
		c.cfg.Logger.Warn("metadata proposal refused", "op", cmd.Op, "by", proposer, "from", from, "err", err)
		return json.Marshal(encodeError(err))
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProposeTimeout)
	defer cancel()
	return json.Marshal(c.proposeOnce(ctx, data))
}

// memberName returns the name of the member with peer ID id, or "".
func memberName(v *meta.View, id peer.ID) string {
	for _, m := range v.Members() {
		if m.PeerID == id.String() {
			return m.Name
		}
	}
	return ""
}

func encodeError(err error) proposeResult {
	code := "invalid"
	switch {
	case errors.Is(err, meta.ErrConflict):
		code = "conflict"
	case errors.Is(err, meta.ErrNotFound):
		code = "not_found"
	case errors.Is(err, meta.ErrForbidden):
		code = "forbidden"
	}
	return proposeResult{Code: code, Message: err.Error()}
}

// remoteError is a check failed at the leader: its message, and the
// sentinel of its class for errors.Is.
type remoteError struct {
	class error
	msg   string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

func decodeError(res proposeResult) error {
	class := meta.ErrInvalid
	switch res.Code {
	case "conflict":
		class = meta.ErrConflict
	case "not_found":
		class = meta.ErrNotFound
	case "forbidden":
		class = meta.ErrForbidden
	}
	return &remoteError{class: class, msg: res.Message}
}

// Sync waits until this node has applied everything committed before the
// call, as confirmed by a leader that still holds its quorum: a view read
// after Sync is linearizable. Ordinary reads skip it and may be stale.
func (c *Control) Sync(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.ProposeTimeout)
		defer cancel()
	}
	for {
		index, err := c.readIndex(ctx)
		if err == nil {
			if err := c.WaitApplied(ctx, index); err != nil {
				return c.noQuorum(err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return c.noQuorum(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readIndex returns the leader's commit index after it confirmed its leadership.
func (c *Control) readIndex(ctx context.Context) (uint64, error) {
	if c.raft.State() == raft.Leader {
		return c.leaderReadIndex()
	}
	_, leader := c.raft.LeaderWithID()
	id, err := peer.Decode(string(leader))
	if err != nil {
		return 0, errors.New("no leader known")
	}
	b, err := transport.Request(ctx, c.cfg.Host, id, ReadIndexProtocol, []byte("?"), 64)
	if err != nil {
		return 0, err
	}
	var idx uint64
	if err := json.Unmarshal(b, &idx); err != nil || idx == 0 {
		return 0, errors.New("leader gave no read index")
	}
	return idx, nil
}

// leaderReadIndex returns the commit index once this leader has confirmed
// its leadership. A new leader first commits a barrier of its own term: until
// then its commit index may lag entries its predecessor already confirmed.
func (c *Control) leaderReadIndex() (uint64, error) {
	term := c.raft.CurrentTerm()
	if c.readyTerm.Load() != term {
		if err := c.raft.Barrier(c.cfg.ProposeTimeout).Error(); err != nil {
			return 0, err
		}
		c.readyTerm.Store(term)
	}
	commit := c.raft.CommitIndex()
	if err := c.raft.VerifyLeader().Error(); err != nil {
		return 0, err
	}
	return commit, nil
}

func (c *Control) handleReadIndex(ctx context.Context, from peer.ID, _ []byte) ([]byte, error) {
	if c.raft.State() != raft.Leader {
		return json.Marshal(uint64(0))
	}
	idx, err := c.leaderReadIndex()
	if err != nil {
		return json.Marshal(uint64(0))
	}
	return json.Marshal(idx)
}

// WaitApplied blocks until this node's state machine has applied every
// command up to log index index. Raft's applied index moves when an entry
// is handed to the state machine, not when it is applied, and entries that
// are not commands (configuration, no-op, barrier) never reach it: so wait
// for Raft, then for the state machine to reach the last command at or
// below index.
func (c *Control) WaitApplied(ctx context.Context, index uint64) error {
	for c.raft.AppliedIndex() < index {
		if err := c.waitChange(ctx); err != nil {
			return err
		}
	}
	target := uint64(0)
	for i := index; i > c.fsm.applied.Load(); i-- {
		var l raft.Log
		if err := c.cfg.Logs.GetLog(i, &l); err != nil {
			break // compacted: it is in a snapshot the FSM restored
		}
		if l.Type == raft.LogCommand {
			target = i
			break
		}
	}
	for c.fsm.applied.Load() < target {
		if err := c.waitChange(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *Control) waitChange(ctx context.Context) error {
	select {
	case <-c.fsm.Changed():
	case <-time.After(20 * time.Millisecond): // Raft's own index has no notification
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// noQuorum explains a failed proposal: which seeds are unreachable, since when.
func (c *Control) noQuorum(cause error) error {
	v := c.View()
	var down []string
	for _, m := range v.Members() {
		if m.Role != "seed" || m.Name == c.cfg.Self.Name || c.cfg.Liveness == nil {
			continue
		}
		if state, since, ok := c.cfg.Liveness(m.Name); !ok {
			down = append(down, m.Name+" (never seen)")
		} else if state != "alive" {
			down = append(down, fmt.Sprintf("%s (%s since %s)", m.Name, state, since.UTC().Format(time.RFC3339)))
		}
	}
	msg := "no seed leader could commit the change"
	if len(down) > 0 {
		msg = "unreachable seeds: " + strings.Join(down, ", ")
	}
	if lc := c.raft.LastContact(); !lc.IsZero() && c.raft.State() != raft.Leader {
		msg += fmt.Sprintf("; last contact with a leader %s ago", time.Since(lc).Round(time.Second))
	}
	return fmt.Errorf("%w: %s (%v); reads keep serving metadata index %d", ErrNoQuorum, msg, cause, v.Index)
}

// upkeep keeps, on the leader, the Raft configuration in line with the
// member list: seeds vote, other members follow as non-voters, removed
// members leave.
func (c *Control) upkeep() {
	defer c.wg.Done()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		changed := c.fsm.Changed()
		if c.raft.State() == raft.Leader {
			if err := c.reconcile(); err != nil {
				c.cfg.Logger.Warn("raft configuration upkeep", "err", err)
			}
		}
		select {
		case <-c.stop:
			return
		case <-changed:
		case <-c.raft.LeaderCh():
		case <-tick.C:
		}
	}
}

func (c *Control) reconcile() error {
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	have := map[raft.ServerID]raft.ServerSuffrage{}
	for _, s := range f.Configuration().Servers {
		have[s.ID] = s.Suffrage
	}
	v := c.View()
	want := map[raft.ServerID]raft.ServerSuffrage{}
	for _, m := range v.Members() {
		id := raft.ServerID(m.PeerID)
		want[id] = raft.Nonvoter
		if m.Role != "seed" {
			continue
		}
		// A seed votes once it is a voter already, or is caught up.
		if s, ok := have[id]; ok && s == raft.Voter || m.PeerID == c.cfg.Self.PeerID {
			want[id] = raft.Voter
		} else if c.cfg.Progress != nil {
			if idx, ok := c.cfg.Progress(m.Name); ok && idx >= v.Index {
				want[id] = raft.Voter
			}
		}
	}
	var errs []error
	for _, id := range slices.Sorted(mapsKeys(want)) {
		s, ok := have[id]
		if ok && s == want[id] {
			continue
		}
		addr := raft.ServerAddress(id)
		var err error
		switch {
		case want[id] == raft.Voter:
			err = c.raft.AddVoter(id, addr, 0, 5*time.Second).Error()
			c.cfg.Logger.Info("raft: seed promoted to voter", "peer", id)
		case !ok:
			err = c.raft.AddNonvoter(id, addr, 0, 5*time.Second).Error()
			c.cfg.Logger.Info("raft: member added as non-voter", "peer", id)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("add %s: %w", id, err))
		}
	}
	for id := range have {
		if _, ok := want[id]; !ok && id != raft.ServerID(c.cfg.Self.PeerID) {
			if err := c.raft.RemoveServer(id, 0, 5*time.Second).Error(); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Status is the control plane as this node sees it.
type Status struct {
	State        string    `json:"state"` // Leader, Follower, Candidate, Shutdown
	Leader       string    `json:"leader"`
	Voters       []string  `json:"voters"`
	Nonvoters    []string  `json:"nonvoters"`
	AppliedIndex uint64    `json:"applied_index"`
	CommitIndex  string    `json:"commit_index"`
	MetaIndex    uint64    `json:"meta_index"`
	LastContact  time.Time `json:"last_contact,omitzero"`
}

// Status reports Raft's state on this node, with peer IDs as member names
// where known.
func (c *Control) Status() Status {
	v := c.View()
	name := func(id string) string {
		if pid, err := peer.Decode(id); err == nil {
			if n := memberName(v, pid); n != "" {
				return n
			}
		}
		return id
	}
	_, leader := c.raft.LeaderWithID()
	st := Status{State: c.raft.State().String(), Leader: name(string(leader)), AppliedIndex: c.raft.AppliedIndex(),
		CommitIndex: c.raft.Stats()["commit_index"], MetaIndex: v.Index, Voters: []string{}, Nonvoters: []string{}}
	if c.raft.State() != raft.Leader {
		st.LastContact = c.raft.LastContact()
	}
	if f := c.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				st.Voters = append(st.Voters, name(string(s.ID)))
			} else {
				st.Nonvoters = append(st.Nonvoters, name(string(s.ID)))
			}
		}
	}
	slices.Sort(st.Voters)
	slices.Sort(st.Nonvoters)
	return st
}

// IsLeader reports whether this node leads the Raft group.
func (c *Control) IsLeader() bool { return c.raft.State() == raft.Leader }
