package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/control"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/member"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/storage"
	"github.com/lienthong/lienthong/transport"
	"github.com/lienthong/lienthong/transport/hello"
)

// keyFederated marks a store that belongs to a federation: once joined, a
// node restarts into it without --bootstrap or --join.
const keyFederated = "node/federated"

// federation is the control plane of a federated node: the libp2p host and
// its gater, Raft over it, and gossip once the federation's key is known.
type federation struct {
	cfg     Config
	self    meta.Member
	logger  *slog.Logger
	host    host.Host
	gater   *transport.Gater
	control *control.Control
	join    []peer.AddrInfo
	fast    bool
	gossip  atomic.Pointer[member.List]
	replica *replica.Replicator
	keys    [][]byte // gossip keys installed; touched only by run

	// sock is the gossip address, bound at start and handed to gossip when
	// it starts (nil from then on); gossipAddr is where it is bound. After
	// startFederation, sock is touched only by run, then by close.
	sock       *member.Socket
	gossipAddr string
	// api is the API's bound host:port, once Serve runs.
	api atomic.Pointer[string]

	stop chan struct{}
	wg   sync.WaitGroup
}

// isFederated reports whether the store was already part of a federation.
func isFederated(st *storage.Store) (bool, error) {
	_, err := st.GetLocal(keyFederated)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func startFederation(cfg Config, opts Options, key crypto.PrivKey, id peer.ID, st *storage.Store, reg prometheus.Registerer) (*federation, error) {
	f := &federation{cfg: cfg, logger: opts.Logger, fast: opts.FastTimers, stop: make(chan struct{}),
		self: meta.Member{Name: cfg.Name, Role: cfg.Role, PeerID: id.String()}}
	var boot []peer.ID
	for _, a := range opts.Join {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("%w: --join %q: want a multiaddr ending in /p2p/PEER_ID, e.g. /ip4/10.0.0.1/tcp/7171/p2p/12D3KooW…: %v", ErrConfig, a, err)
		}
		f.join = append(f.join, *ai)
		boot = append(boot, ai.ID)
	}
	f.gater = transport.NewGater(opts.Logger)
	if reg != nil {
		if err := reg.Register(f.gater.Collector()); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	f.gater.SetBootstrap(boot)
	for _, b := range opts.BlockPeers {
		id, err := peer.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%w: --block-peers %q: not a peer ID", ErrConfig, b)
		}
		f.gater.Block(id)
	}
	// Bind every address now, so that a taken one stops the node at once,
	// even though gossip starts only once the node is admitted.
	sock, err := member.Listen(cfg.Gossip.Listen, opts.Logger)
	if err != nil {
		return nil, bindError(cfg, "gossip.listen", cfg.Gossip.Listen, err)
	}
	f.sock, f.gossipAddr = sock, sock.Addr()
	h, err := transport.NewHost(transport.HostConfig{Key: key, ListenAddrs: cfg.P2P.Listen, AdvertiseAddrs: cfg.P2P.Advertise, Gater: f.gater, Logger: opts.Logger})
	if err != nil {
		sock.Close()
		var le *transport.ListenError
		if errors.As(err, &le) {
			return nil, bindError(cfg, "p2p.listen", le.Addr, err)
		}
		return nil, err
	}
	f.host = h
	var snaps raft.SnapshotStore
	if opts.FS == nil {
		snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, raftDir), 2,
			control.HCLogger(opts.Logger, "raft-snapshots"))
		if err != nil {
			h.Close()
			sock.Close()
			return nil, fmt.Errorf("raft snapshots: %w", err)
		}
	} else {
		snaps = raft.NewInmemSnapshotStore()
	}
	rs := storage.NewRaftStore(st)
	cc := control.Config{Self: f.self, Host: h, Logs: rs, Stable: rs, Snapshots: snaps, Store: st,
		Bootstrap: opts.Bootstrap, RecoverVoters: opts.RecoverSeeds, Liveness: f.liveness, Progress: f.progress, Registerer: reg, Logger: opts.Logger}
	if opts.FastTimers {
		cc.HeartbeatTimeout, cc.ElectionTimeout, cc.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond
		cc.CommitTimeout = 10 * time.Millisecond
		cc.ProposeTimeout = 3 * time.Second
	}
	if f.control, err = control.New(cc); err != nil {
		h.Close()
		sock.Close()
		return nil, err
	}
	if err := st.Update(context.Background(), func(tx *storage.Txn) error {
		tx.PutLocal(keyFederated, []byte("1"))
		return nil
	}); err != nil {
		f.close()
		return nil, err
	}
	hello.Serve(h, f.info)
	f.wg.Add(1)
	go f.run()
	return f, nil
}

// startReplica starts replicating the datasets this node may read.
func (f *federation) startReplica(eng *data.Engine, st *storage.Store, key crypto.PrivKey, reg prometheus.Registerer) {
	rc := replica.Config{Self: f.cfg.Name, Key: key, Network: replica.P2P{Host: f.host}, Store: st, Meta: f.control, Engine: eng,
		Retention: f.cfg.Replication.Retention, SnapshotChunkBytes: f.cfg.Replication.SnapshotChunkBytes, Push: f.cfg.Replication.Push,
		Registerer: reg, Logger: f.logger}
	if f.fast {
		rc.Interval = 300 * time.Millisecond
	}
	f.replica = replica.New(rc)
	ctx, cancel := context.WithCancel(context.Background())
	switch {
	case f.control.View().Member(f.cfg.Name) == nil:
		// No metadata yet (a new store joining, e.g. an owner rebuilt
		// after its disk died, with its identity.key): whether it owns a
		// dataset is known only once it has caught up with the metadata,
		// and it must not write before it got back its own ops.
		const reason = "this node is waiting for the federation's metadata before it writes"
		eng.HoldWrites(reason, recoverWait(f.fast))
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer eng.ReleaseWrites()
			for {
				changed := f.control.Changed()
				// Admitted, and caught up with the leader: the view says
				// every dataset this node owns, not a prefix of the log.
				if f.control.View().Member(f.cfg.Name) != nil && f.control.Sync(ctx) == nil {
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-changed:
				case <-time.After(time.Second):
				}
				eng.HoldWrites(reason, recoverWait(f.fast))
			}
			if f.ownsSharedDataset() {
				holdForRecovery(eng, f.fast)
				f.recoverOwn(ctx)
			}
		}()
	case f.ownsSharedDataset():
		f.holdAndRecover(ctx, eng) // held before any write
	}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		f.replica.Run(ctx, f.host)
	}()
	go func() {
		defer f.wg.Done()
		<-f.stop
		cancel()
	}()
}

// holdAndRecover holds the writes of an owner, then, in the background,
// gets back from its readers any of its own ops its store lacks
// (replica.Recover) and releases them.
func (f *federation) holdAndRecover(ctx context.Context, eng *data.Engine) {
	holdForRecovery(eng, f.fast)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer eng.ReleaseWrites()
		f.recoverOwn(ctx)
	}()
}

func holdForRecovery(eng *data.Engine, fast bool) {
	eng.HoldWrites("this node is checking its own streams against its readers before it writes (at most "+recoverWait(fast).String()+")", recoverWait(fast))
}

// recoverWait bounds how long an owner holds its writes at start waiting to
// reach a reader.
func recoverWait(fast bool) time.Duration {
	if fast {
		return 3 * time.Second
	}
	return 15 * time.Second
}

// ownsSharedDataset reports whether this node owns a dataset that another
// member may hold ops of.
func (f *federation) ownsSharedDataset() bool {
	for _, ds := range f.control.View().Datasets() {
		if ds.Owner == f.cfg.Name && len(ds.Readers)+len(ds.PastOwners) > 0 {
			return true
		}
	}
	return false
}

// recoverOwn waits until this node reaches a member that may hold its own
// ops, or recoverWait passes, and gets back what its store lacks.
func (f *federation) recoverOwn(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, recoverWait(f.fast))
	defer cancel()
	for {
		n, reached, err := f.replica.Recover(ctx)
		switch {
		case reached > 0 && err == nil:
			if n > 0 {
				f.logger.Warn("recovered this node's own ops from its readers: its store was behind what it had acknowledged", "ops", n)
			}
			return
		case ctx.Err() != nil:
			f.logger.Warn("could not check this node's own streams against any reader before writing; writes go on",
				"wait", recoverWait(f.fast), "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (f *federation) close() error {
	close(f.stop)
	f.wg.Wait()
	var errs []error
	if g := f.gossip.Load(); g != nil {
		errs = append(errs, g.Leave(time.Second), g.Shutdown())
	}
	if f.sock != nil {
		errs = append(errs, f.sock.Close())
	}
	errs = append(errs, f.control.Close(), f.host.Close())
	return errors.Join(errs...)
}

func (f *federation) info() hello.Info {
	in := hello.Info{Name: f.cfg.Name, API: f.apiAddr()}
	if g := f.gossip.Load(); g != nil {
		in.Gossip = g.Addr()
	}
	return in
}

// apiAddr is the API's bound host:port, or its configured one before Serve.
func (f *federation) apiAddr() string {
	if a := f.api.Load(); a != nil {
		return *a
	}
	return f.cfg.API.Listen
}

// liveness reports what gossip knows of a member.
func (f *federation) liveness(name string) (string, time.Time, bool) {
	g := f.gossip.Load()
	if g == nil {
		return "", time.Time{}, false
	}
	p, ok := g.Peer(name)
	return string(p.State), p.Since, ok
}

// progress reports the metadata index a member announces over gossip.
func (f *federation) progress(name string) (uint64, bool) {
	g := f.gossip.Load()
	if g == nil {
		return 0, false
	}
	p, ok := g.Peer(name)
	return p.Meta.MetaIndex, ok && p.State == member.StateAlive
}

// run keeps the node in line with the metadata: who may connect, where
// members are, the bootstrap seed's first duties, this node's addresses in
// the metadata, and gossip.
func (f *federation) run() {
	defer f.wg.Done()
	tick := time.NewTicker(time.Second)
	if f.fast {
		tick.Reset(200 * time.Millisecond)
	}
	defer tick.Stop()
	for {
		changed := f.control.Changed()
		f.step()
		select {
		case <-f.stop:
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

func (f *federation) step() {
	v := f.control.View()
	var admitted []peer.ID
	for _, m := range v.Members() {
		id, err := peer.Decode(m.PeerID)
		if err != nil {
			continue
		}
		admitted = append(admitted, id)
		for _, a := range m.Addrs {
			if ai, err := peer.AddrInfoFromString(a + "/p2p/" + m.PeerID); err == nil && id != f.host.ID() {
				f.host.Peerstore().AddAddrs(id, ai.Addrs, peerstore.PermanentAddrTTL)
			}
		}
	}
	if len(admitted) > 0 {
		f.gater.SetAdmitted(admitted)
		if v.Member(f.cfg.Name) != nil {
			// Admitted and synced: from now on only the metadata decides;
			// a --join seed removed from it is refused like any other.
			f.gater.SetBootstrap(nil)
		}
		f.gater.Enforce(f.host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Until this node sees itself admitted, keep its join seeds connected:
	// they forward its proposals and the leader streams the log through
	// whatever address it learns.
	if v.Member(f.cfg.Name) == nil || len(f.host.Network().Peers()) == 0 {
		for _, ai := range f.join {
			if f.host.Network().Connectedness(ai.ID) != 1 { // network.Connected
				if err := f.host.Connect(ctx, ai); err != nil {
					f.logger.Debug("join: connect", "peer", ai.ID, "err", err)
				}
			}
		}
	}
	if f.control.IsLeader() && v.Member(f.cfg.Name) == nil && f.cfg.Role == "seed" {
		m := f.self
		m.Addrs = f.addrs()
		if _, err := f.control.Propose(ctx, meta.Command{Op: meta.OpPutMember, Member: &m}); err != nil {
			f.logger.Warn("bootstrap: admit self", "err", err)
		}
		return
	}
	if f.control.IsLeader() && len(v.Settings.GossipKeys) == 0 {
		k := make([]byte, 32)
		rand.Read(k)
		if _, err := f.control.Propose(ctx, meta.Command{Op: meta.OpGossipKeys, Keys: [][]byte{k}}); err != nil {
			f.logger.Warn("bootstrap: gossip key", "err", err)
		}
		return
	}
	if m := v.Member(f.cfg.Name); m != nil && !slices.Equal(m.Addrs, f.addrs()) {
		if _, err := f.control.Propose(ctx, meta.Command{Op: meta.OpMemberAddrs, Name: f.cfg.Name, Addrs: f.addrs()}); err != nil {
			f.logger.Debug("publish own addresses", "err", err)
		}
	}
	f.gossipStep(ctx, v)
}

// addrs returns the host's listen addresses, sorted, as strings.
func (f *federation) addrs() []string {
	var out []string
	for _, a := range f.host.Addrs() {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

// gossipStep starts gossip once the federation's keys are known, follows
// key rotations, and joins the gossip of connected members.
func (f *federation) gossipStep(ctx context.Context, v *meta.View) {
	if len(v.Settings.GossipKeys) == 0 || v.Member(f.cfg.Name) == nil {
		return
	}
	g := f.gossip.Load()
	if g == nil {
		mc := member.DefaultConfig(f.cfg.Name)
		// The socket bound at start; should gossip fail to start on it,
		// later tries bind the configured address again.
		mc.BindAddr, mc.Socket, mc.AdvertiseAddr = f.cfg.Gossip.Listen, f.sock, f.cfg.Gossip.Advertise
		f.sock = nil
		mc.Keys = v.Settings.GossipKeys
		mc.Logger = f.logger
		mc.Meta = func() member.Meta {
			return member.Meta{Role: f.cfg.Role, PeerID: f.self.PeerID, Addrs: f.addrs(),
				MetaIndex: f.control.View().Index, APIAddr: f.apiAddr()}
		}
		if f.fast {
			mc.WAN = false
			mc.ProbeInterval, mc.ProbeTimeout, mc.GossipInterval = 200*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
		}
		var err error
		if g, err = member.Start(mc); err != nil {
			f.logger.Error("gossip: start", "err", err)
			return
		}
		f.gossip.Store(g)
		f.keys = v.Settings.GossipKeys
	} else {
		if !slices.EqualFunc(f.keys, v.Settings.GossipKeys, bytes.Equal) {
			if err := g.SetKeys(v.Settings.GossipKeys); err != nil {
				f.logger.Warn("gossip: keys", "err", err)
			} else {
				f.keys = v.Settings.GossipKeys
			}
		}
		if err := g.UpdateMeta(); err != nil {
			f.logger.Debug("gossip: meta", "err", err)
		}
	}
	if len(g.Peers()) > 1 {
		return
	}
	var addrs []string
	for _, p := range f.host.Network().Peers() {
		if in, err := hello.Ask(ctx, f.host, p); err == nil && in.Gossip != "" {
			addrs = append(addrs, in.Gossip)
		}
	}
	if len(addrs) > 0 {
		if _, err := g.Join(addrs); err != nil {
			f.logger.Debug("gossip: join", "err", err)
		}
	}
}

// Peers returns gossip's view of the members, or nil before gossip runs.
func (f *federation) peers() []member.Peer {
	if g := f.gossip.Load(); g != nil {
		return g.Peers()
	}
	return nil
}
