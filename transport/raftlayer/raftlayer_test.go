package raftlayer

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/lienthong/lienthong/transport"
)

type node struct {
	host.Host
	gater *transport.Gater
}

func newNodes(t *testing.T, n int) []*node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := make([]*node, n)
	ids := make([]peer.ID, n)
	for i := range nodes {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		g := transport.NewGater(logger)
		h, err := transport.NewHost(transport.HostConfig{
			Key:         key,
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
			Gater:       g,
			Logger:      logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &node{Host: h, gater: g}
		ids[i] = h.ID()
	}
	for _, a := range nodes {
		a.gater.SetAdmitted(ids)
		for _, b := range nodes {
			if a != b {
				a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	return nodes
}

func TestLayerConn(t *testing.T) {
	nodes := newNodes(t, 2)
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	la, lb := New(nodes[0]), New(nodes[1])
	defer la.Close()

	if got := la.Addr().String(); got != nodes[0].ID().String() {
		t.Fatalf("Addr() = %s, want the peer ID", got)
	}
	if _, err := la.Dial("127.0.0.1:8300", time.Second); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("dial a host:port: err = %v, want ErrBadAddress", err)
	}

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := lb.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := la.Dial(raft.ServerAddress(nodes[1].ID().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if c.RemoteAddr().String() != nodes[1].ID().String() || s.RemoteAddr().String() != nodes[0].ID().String() ||
		c.LocalAddr().String() != nodes[0].ID().String() || s.LocalAddr().String() != nodes[1].ID().String() {
		t.Fatalf("addresses: dialer %s->%s, acceptor %s->%s", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
	}
	// Deadlines pass through.
	if err := s.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := s.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v, want a timeout", err)
	}

	// Close unblocks Accept, refuses new streams, and resets open ones.
	done := make(chan error, 1)
	go func() { _, err := lb.Accept(); done <- err }()
	if err := lb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if err := lb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("stream survived the remote layer's Close")
	}
	// libp2p negotiates the protocol lazily when identify said the peer
	// speaks it, so Dial may succeed; the first exchange must then fail.
	if c2, err := la.Dial(raft.ServerAddress(nodes[1].ID().String()), 2*time.Second); err == nil {
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c2.Write([]byte("x"))
		if _, err := c2.Read(buf); err == nil {
			t.Fatal("exchange succeeded with a closed layer")
		} else {
			t.Logf("dial to a closed layer: first read fails: %v", err)
		}
		c2.Close()
	} else {
		t.Logf("dial to a closed layer: %v", err)
	}
	c.Close()
}

// listFSM appends every command to a slice.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.cmds)
	return snapshot(b), err
}

func (f *listFSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	var cmds []string
	if err := json.NewDecoder(r).Decode(&cmds); err != nil {
		return err
	}
	f.mu.Lock()
	f.cmds = cmds
	f.mu.Unlock()
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

type member struct {
	*node
	raft  *raft.Raft
	fsm   *listFSM
	trans *raft.NetworkTransport
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderAmong(ms []*member) *member {
	for _, m := range ms {
		if m.raft.State() == raft.Leader {
			return m
		}
	}
	return nil
}

// apply applies cmds on whichever member of ms leads, retrying while
// leadership settles.
func apply(t *testing.T, ms []*member, cmds []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, cmd := range cmds {
		for {
			var err error
			if l := leaderAmong(ms); l != nil {
				err = l.raft.Apply([]byte(cmd), 2*time.Second).Error()
				if err == nil {
					break
				}
			} else {
				err = errors.New("no leader")
			}
			if time.Now().After(deadline) {
				t.Fatalf("apply %q: %v", cmd, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func converged(ms []*member, want int) bool {
	first := ms[0].fsm.list()
	if len(first) != want {
		return false
	}
	for _, m := range ms[1:] {
		if got := m.fsm.list(); len(got) != want || strings.Join(got, ",") != strings.Join(first, ",") {
			return false
		}
	}
	return true
}

func TestRaftClusterOverLibp2p(t *testing.T) {
	startGoroutines := runtime.NumGoroutine()

	nodes := newNodes(t, 3)
	ms := make([]*member, len(nodes))
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(n.ID().String()),
			Address:  raft.ServerAddress(n.ID().String()),
		})
	}
	for i, n := range nodes {
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(n.ID().String())
		conf.HeartbeatTimeout = 300 * time.Millisecond
		conf.ElectionTimeout = 300 * time.Millisecond
		conf.LeaderLeaseTimeout = 150 * time.Millisecond
		conf.CommitTimeout = 5 * time.Millisecond
		conf.Logger = nil
		conf.LogOutput = io.Discard
		trans := NewTransport(n, 3, 2*time.Second, nil)
		if got := string(trans.LocalAddr()); got != n.ID().String() {
			t.Fatalf("transport address %s, want the peer ID", got)
		}
		fsm := &listFSM{}
		logs := raft.NewInmemStore()
		r, err := raft.NewRaft(conf, fsm, logs, logs, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = &member{node: n, raft: r, fsm: fsm, trans: trans}
	}
	shutdown := func() {
		for _, m := range ms {
			if err := m.raft.Shutdown().Error(); err != nil {
				t.Errorf("raft shutdown: %v", err)
			}
			m.trans.Close()
		}
		for _, m := range ms {
			if err := m.Close(); err != nil {
				t.Errorf("host close: %v", err)
			}
		}
	}
	defer func() {
		if t.Failed() {
			shutdown()
		}
	}()

	if err := ms[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a leader", func() bool { return leaderAmong(ms) != nil })
	start := time.Now()
	cmds := make([]string, 100)
	for i := range cmds {
		cmds[i] = fmt.Sprintf("cmd-%03d", i)
	}
	apply(t, ms, cmds)
	eventually(t, 10*time.Second, "100 commands on every FSM", func() bool { return converged(ms, 100) })
	t.Logf("100 commands applied and replicated in %v", time.Since(start))

	// Partition the leader from the other two, both ways.
	old := leaderAmong(ms)
	var rest []*member
	for _, m := range ms {
		if m != old {
			rest = append(rest, m)
			m.gater.Block(old.ID())
			old.gater.Block(m.ID())
		}
	}
	for _, m := range ms {
		m.gater.Enforce(m)
	}
	start = time.Now()
	eventually(t, 10*time.Second, "a new leader among the others", func() bool { return leaderAmong(rest) != nil })
	t.Logf("new leader %s elected %v after the partition", leaderAmong(rest).ID(), time.Since(start))
	more := []string{"after-0", "after-1", "after-2", "after-3", "after-4"}
	apply(t, rest, more)
	eventually(t, 10*time.Second, "the majority converges", func() bool { return converged(rest, 105) })
	if got := len(old.fsm.list()); got != 100 {
		t.Fatalf("partitioned old leader applied %d commands, want 100", got)
	}
	eventually(t, 5*time.Second, "old leader steps down", func() bool { return old.raft.State() != raft.Leader })

	// Heal: the old leader rejoins and catches up.
	for _, m := range rest {
		m.gater.Unblock(old.ID())
		old.gater.Unblock(m.ID())
	}
	start = time.Now()
	eventually(t, 15*time.Second, "the old leader catches up", func() bool { return converged(ms, 105) })
	t.Logf("old leader caught up %v after healing", time.Since(start))
	apply(t, ms, []string{"healed"})
	eventually(t, 10*time.Second, "all converge after healing", func() bool { return converged(ms, 106) })
	if got := ms[0].fsm.list(); !bytes.Equal([]byte(strings.Join(got[:100], ",")), []byte(strings.Join(cmds, ","))) {
		t.Fatalf("log order differs from apply order")
	}

	shutdown()
	// Goroutines settle back near the start (libp2p and raft stop theirs).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > startGoroutines+5 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left, %d at start:\n%s", runtime.NumGoroutine(), startGoroutines, buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("goroutines: %d at start, %d at end", startGoroutines, runtime.NumGoroutine())
}
