package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/control"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/member"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/storage"
)

// Version is the build's version, set by the linker (-X).
var Version = "dev"

// Options are the parts of a node that tests and the simulator replace.
type Options struct {
	// FS holds the data directory; nil means the operating system's.
	FS vfs.FS
	// NowMillis is the physical clock in Unix milliseconds; nil means time.Now.
	NowMillis func() int64
	// Logger; nil discards.
	Logger *slog.Logger
	// Bootstrap creates a new federation with this node as its first seed
	// (lienthong start --bootstrap). Join lists seeds' multiaddrs, ending in
	// /p2p/PEER_ID, to join a federation through (lienthong start --join).
	// A node that was ever federated restarts federated without either;
	// one that never was runs as a single-node federation.
	Bootstrap bool
	Join      []string
	// RecoverSeeds names the seeds, this one among them, that make up the
	// metadata Raft group from this start on: after most seeds are lost for
	// good (lienthong start --recover-seeds; docs/operations.md, "Quorum
	// loss"). Control.Config.RecoverVoters says more.
	RecoverSeeds []string
	// FastTimers shortens Raft and gossip timings, for tests on loopback.
	FastTimers bool
	// BlockPeers are peer IDs refused even when admitted: a test hook that
	// cuts links for partition tests.
	BlockPeers []string
	// Lock is the node directory's lock (LockDir), taken by a caller that
	// must hold it before New; nil: New takes it. New owns it: it closes it
	// when it fails, and in Close.
	Lock io.Closer
}

// Node is one running lienthong node.
type Node struct {
	cfg       Config
	peerID    string
	logger    *slog.Logger
	store     *storage.Store
	meta      meta.Store
	lock      io.Closer // the node directory's LockFile
	closeOnce sync.Once
	closeErr  error
	fed       *federation // nil for a single-node federation
	engine    *data.Engine
	handler   http.Handler
	conns     *api.ConnLimiter
	registry  *prometheus.Registry
	started   time.Time
}

// New opens the node described by cfg: its identity, its store, its
// metadata and data plane, and the API handler. Call Close when done.
func New(cfg Config, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NowMillis == nil {
		opts.NowMillis = func() int64 { return time.Now().UnixMilli() }
	}
	lock := opts.Lock
	if lock == nil {
		var err error
		if lock, err = LockDir(cfg.Dir); err != nil {
			return nil, err
		}
	}
	key, id, err := LoadIdentity(cfg.Dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	st, err := storage.Open(storage.Options{
		Dir: filepath.Join(cfg.Dir, DataDir), FS: opts.FS, CacheBytes: cfg.Storage.CacheBytes, Logger: opts.Logger,
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, peerID: id.String(), logger: opts.Logger, lock: lock, store: st, started: time.Now(), registry: prometheus.NewRegistry()}
	ctx := context.Background()
	federated, err := isFederated(st)
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	if federated || opts.Bootstrap || len(opts.Join) > 0 {
		if n.fed, err = startFederation(cfg, opts, key, id, st, n.registry); err != nil {
			st.Close()
			lock.Close()
			return nil, err
		}
		n.meta = n.fed.control
	} else if n.meta, err = meta.OpenLocal(ctx, st, meta.Member{Name: cfg.Name, Role: "seed", PeerID: n.peerID}); err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	n.engine, err = data.New(data.Config{
		Self: cfg.Name, Store: st, Meta: n.meta, NowMillis: opts.NowMillis,
		MaxClockAheadMillis: cfg.Clock.MaxAheadMillis, Logger: opts.Logger,
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	if n.fed != nil {
		n.fed.startReplica(n.engine, st, key, n.registry)
	}
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), nodeCollector{n})
	tokens, err := n.tokens()
	if err != nil {
		n.Close()
		return nil, err
	}
	n.conns = api.NewConnLimiter(cfg.API.MaxConnections, cfg.API.MaxConnectionsPerIP, n.registry)
	n.handler = api.New(api.Config{
		Engine: n.engine, Meta: n.meta, Tokens: tokens,
		MaxBodyBytes: cfg.API.MaxBodyBytes, WriteTimeout: cfg.API.WriteTimeout, Health: st.Err, Ready: func() (bool, any) { r := n.Ready(); return r.Ready, r }, Status: func() any { return n.Status() }, MetaStatus: func() any { return n.MetaStatus() },
		Verify:   func(ctx context.Context, peer, dataset string) (any, error) { return n.Verify(ctx, peer, dataset) },
		Backup:   func(ctx context.Context, dir string) (any, error) { return n.Backup(ctx, dir) },
		Registry: n.registry, Logger: opts.Logger,
	})
	return n, nil
}

// keyTokens is the node-local key of the tokens made through the API.
const keyTokens = "api_tokens"

// tokens returns the API's token checker: the config's tokens and those
// made with lienthong token create, kept in the store.
func (n *Node) tokens() (*api.Tokens, error) {
	var managed []api.TokenHash
	b, err := n.store.GetLocal(keyTokens)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &managed); err != nil {
			return nil, fmt.Errorf("%w: the tokens made through the API (%s) do not decode: %v", storage.ErrCorrupt, keyTokens, err)
		}
		for _, t := range managed {
			if err := t.Validate(); err != nil {
				return nil, fmt.Errorf("%w: token %q made through the API: %v", storage.ErrCorrupt, t.Name, err)
			}
		}
	case !errors.Is(err, storage.ErrNotFound):
		return nil, err
	}
	save := func(ts []api.TokenHash) error {
		b, err := json.Marshal(ts)
		if err != nil {
			return err
		}
		return n.store.Update(context.Background(), func(tx *storage.Txn) error {
			tx.PutLocal(keyTokens, b)
			return nil
		})
	}
	return api.NewTokens(n.cfg.API.Tokens, managed, save), nil
}

// Engine returns the node's data plane.
func (n *Node) Engine() *data.Engine { return n.engine }

// Meta returns the node's metadata.
func (n *Node) Meta() meta.Store { return n.meta }

// Store returns the node's store, for benchmarks and tools that read it
// directly; writes go through the Engine.
func (n *Node) Store() *storage.Store { return n.store }

// Handler returns the HTTP API.
func (n *Node) Handler() http.Handler { return n.handler }

// PeerID returns the node's libp2p peer ID.
func (n *Node) PeerID() string { return n.peerID }

// Serve serves the API on l (from ListenAPI) until ctx ends, then shuts
// down gracefully, with the configured timeouts and connection caps. Once
// serving it writes the addresses the node bound to AddressesFile in its
// directory, and removes the file when it returns.
func (n *Node) Serve(ctx context.Context, l net.Listener) error {
	c := n.cfg.API
	srv := &http.Server{Handler: n.handler,
		ReadHeaderTimeout: min(10*time.Second, c.ReadTimeout), ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout,
		ErrorLog: slog.NewLogLogger(n.logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	api := l.Addr().String()
	if n.fed != nil {
		n.fed.api.Store(&api)
	}
	addrs := n.addresses(api)
	if err := writeAddresses(n.cfg.Dir, addrs); err != nil {
		l.Close()
		return err
	}
	defer os.Remove(filepath.Join(n.cfg.Dir, AddressesFile))
	serve := func() error { return srv.Serve(n.conns.Listener(l)) }
	if n.cfg.TLS() {
		cert, key := n.cfg.TLSFiles()
		r, err := newCertReloader(cert, key, n.logger)
		if err != nil {
			l.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}
		serve = func() error { return srv.ServeTLS(n.conns.Listener(l), "", "") }
	}
	// Logged before the API answers: whoever got an answer finds the line
	// written (a launcher that kills the node at once read a log without it).
	n.logger.Info("api listening", "addr", api, "url", addrs.APIURL, "name", n.cfg.Name, "peer_id", n.peerID,
		"p2p", strings.Join(addrs.P2P, ","), "gossip", addrs.Gossip, "addresses_file", filepath.Join(n.cfg.Dir, AddressesFile))
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// addresses reports what the node bound, its API at api.
func (n *Node) addresses(api string) Addresses {
	a := Addresses{PID: os.Getpid(), Name: n.cfg.Name, PeerID: n.peerID, API: api, APIURL: n.cfg.APIURL(api)}
	if n.fed != nil {
		for _, m := range n.fed.addrs() {
			a.P2P = append(a.P2P, m+"/p2p/"+n.peerID)
		}
		a.Gossip = n.fed.gossipAddr
	}
	return a
}

// Close stops the control plane, closes the store and releases the
// directory. Call it after Serve returned; later calls return the first
// call's error.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var err error
		if n.fed != nil {
			err = n.fed.close()
		}
		n.closeErr = errors.Join(err, n.store.Close(), n.lock.Close())
	})
	return n.closeErr
}

// Status is the body of GET /v1/status.
type Status struct {
	Name          string          `json:"name"`
	PeerID        string          `json:"peer_id"`
	Version       string          `json:"version"`
	UptimeSeconds int64           `json:"uptime_seconds"`
	MetaIndex     uint64          `json:"meta_index"`
	Changes       uint64          `json:"changes"`
	Datasets      []DatasetStatus `json:"datasets"`
	// Federated nodes only: the control plane and the members as gossip sees them.
	Control *control.Status `json:"control,omitempty"`
	Members []MemberStatus  `json:"members,omitempty"`
	// Peers are the connected members, how, and when this node last pulled
	// from each; Quarantined the streams it ignores from some peer.
	Peers       []PeerStatus                `json:"peers,omitempty"`
	Quarantined []replica.QuarantinedStream `json:"quarantined,omitempty"`
	// Lag is, per dataset and reader, the ops the reader lacked at its last
	// pull from this node; Alarms are frozen streams (forks), corrupt data on
	// disk (storage.Store.Corruption) and the like.
	Lag    []replica.ReaderLag `json:"lag,omitempty"`
	Alarms []string            `json:"alarms,omitempty"`
}

// PeerStatus is one member as the data plane sees it.
type PeerStatus struct {
	Name      string    `json:"name"`
	Connected bool      `json:"connected"`
	Addr      string    `json:"addr,omitempty"`
	LastSync  time.Time `json:"last_sync,omitzero"`
}

// MemberStatus is one member: from the metadata, and from gossip.
type MemberStatus struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	PeerID    string    `json:"peer_id"`
	State     string    `json:"state"` // alive, suspect, dead, left, or unknown (not seen by gossip)
	Since     time.Time `json:"since,omitzero"`
	MetaIndex uint64    `json:"meta_index"`
}

// DatasetStatus is one dataset as this node holds it.
type DatasetStatus struct {
	Name       string         `json:"name"`
	EntityType string         `json:"entity_type"`
	Owner      string         `json:"owner"`
	OwnerEpoch uint64         `json:"owner_epoch"`
	Role       string         `json:"role"` // owner, reader or none
	Streams    []StreamStatus `json:"streams"`
}

// StreamStatus is the head of one stream held here, and its floor: the op
// log holds the ops after it (older ones were truncated or came in a
// snapshot).
type StreamStatus struct {
	Origin string `json:"origin"`
	Seq    uint64 `json:"seq"`
	Floor  uint64 `json:"floor,omitempty"`
}

// MetaStatus is the body of GET /v1/meta.
type MetaStatus struct {
	MetaIndex uint64          `json:"meta_index"`
	Federated bool            `json:"federated"`
	Control   *control.Status `json:"control,omitempty"`
	Members   []MemberStatus  `json:"members,omitempty"`
	// GossipKeyIDs names the federation's gossip keys, the sending one
	// first (meta.Settings.KeyIDs); the keys themselves are served nowhere.
	GossipKeyIDs []string `json:"gossip_key_ids,omitempty"`
}

// MetaStatus reports the control plane.
func (n *Node) MetaStatus() MetaStatus {
	s := n.Status()
	return MetaStatus{MetaIndex: s.MetaIndex, Federated: n.fed != nil, Control: s.Control, Members: s.Members,
		GossipKeyIDs: n.meta.View().Settings.KeyIDs()}
}

// Status reports the node's state.
func (n *Node) Status() Status {
	v := n.meta.View()
	s := Status{Name: n.cfg.Name, PeerID: n.peerID, Version: Version, MetaIndex: v.Index,
		UptimeSeconds: int64(time.Since(n.started).Seconds()), Changes: n.store.Durable(), Datasets: []DatasetStatus{}}
	if n.fed != nil {
		cs := n.fed.control.Status()
		s.Control = &cs
		seen := map[string]member.Peer{}
		for _, p := range n.fed.peers() {
			seen[p.Name] = p
		}
		for _, m := range v.Members() {
			ms := MemberStatus{Name: m.Name, Role: m.Role, PeerID: m.PeerID, State: "unknown"}
			if p, ok := seen[m.Name]; ok {
				ms.State, ms.Since, ms.MetaIndex = string(p.State), p.Since, p.Meta.MetaIndex
			}
			s.Members = append(s.Members, ms)
			if m.Name == n.cfg.Name || n.fed.replica == nil {
				continue
			}
			ps := PeerStatus{Name: m.Name}
			if id, err := peer.Decode(m.PeerID); err == nil {
				for _, c := range n.fed.host.Network().ConnsToPeer(id) {
					ps.Connected, ps.Addr = true, c.RemoteMultiaddr().String()
				}
				ps.LastSync = n.fed.replica.LastSync()[id.String()]
			}
			s.Peers = append(s.Peers, ps)
		}
		if n.fed.replica != nil {
			s.Quarantined = n.fed.replica.Quarantined()
			s.Lag = n.fed.replica.Lag()
			s.Alarms = n.fed.replica.Alarms()
		}
	}
	if err := n.store.Corruption(); err != nil {
		s.Alarms = append(s.Alarms, err.Error())
	}
	heads, err := n.store.Heads("")
	if err != nil {
		n.logger.Error("status: read heads", "err", err)
	}
	for _, d := range v.Datasets() {
		ds := DatasetStatus{Name: d.Name, EntityType: d.EntityType, Owner: d.Owner, OwnerEpoch: d.OwnerEpoch, Role: "none", Streams: []StreamStatus{}}
		switch {
		case d.Owner == n.cfg.Name:
			ds.Role = "owner"
		case d.CanRead(n.cfg.Name):
			ds.Role = "reader"
		}
		for st, h := range heads {
			if st.Dataset == d.Name {
				floor, err := n.store.Floor(st.Dataset, st.Origin)
				if err != nil {
					n.logger.Error("status: read floor", "err", err)
				}
				ds.Streams = append(ds.Streams, StreamStatus{Origin: st.Origin, Seq: h.Seq, Floor: floor})
			}
		}
		slices.SortFunc(ds.Streams, func(a, b StreamStatus) int { return strings.Compare(a.Origin, b.Origin) })
		s.Datasets = append(s.Datasets, ds)
	}
	return s
}
