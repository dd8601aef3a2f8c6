package member

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fast timings for loopback tests. ProbeTimeout leaves room for a loaded
// two-core machine under -race (load 5 is common while others build); a
// false suspicion is refuted within a gossip round or two anyway. Push/pull
// every 500 ms repairs missed broadcasts quickly.
const (
	testProbeInterval    = 150 * time.Millisecond
	testProbeTimeout     = 100 * time.Millisecond
	testGossipInterval   = 20 * time.Millisecond
	testSuspicionMult    = 3
	testPushPullInterval = 500 * time.Millisecond
	waitTimeout          = 10 * time.Second
)

// testLogger shows warnings and errors on stderr under -v, discards otherwise.
// It deliberately does not use t.Log: memberlist goroutines may still log
// briefly after a test ends.
// MEMBER_TEST_DEBUG=1 shows memberlist's debug chatter too.
func testLogger(name string) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelWarn
	if os.Getenv("MEMBER_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", name)
}

// testNode is a List plus what the test needs around it.
type testNode struct {
	*List
	name    string
	cfg     Config
	index   atomic.Uint64 // MetaIndex served by cfg.Meta
	history *history
}

// history records every OnChange a node receives, per peer.
type history struct {
	mu     sync.Mutex
	states map[string][]State
}

func (h *history) record(p Peer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.states[p.Name]
	if len(s) == 0 || s[len(s)-1] != p.State {
		h.states[p.Name] = append(s, p.State)
	}
}

func (h *history) of(name string) []State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]State(nil), h.states[name]...)
}

func testMeta(name string, index uint64) Meta {
	return Meta{
		Role:      "member",
		PeerID:    "12D3KooW" + name,
		Addrs:     []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW" + name},
		MetaIndex: index,
	}
}

// newTestConfig returns a fast loopback config on a free port. keys nil
// means plaintext.
func newTestConfig(name string, keys ...[]byte) Config {
	return Config{
		Name:             name,
		BindAddr:         "127.0.0.1:0",
		Keys:             keys,
		AllowPlaintext:   len(keys) == 0,
		ProbeInterval:    testProbeInterval,
		ProbeTimeout:     testProbeTimeout,
		GossipInterval:   testGossipInterval,
		SuspicionMult:    testSuspicionMult,
		PushPullInterval: testPushPullInterval,
		Logger:           testLogger(name),
	}
}

// startNode starts a List for cfg whose Meta reports the node's index, and
// shuts it down at the end of the test.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	n := &testNode{name: cfg.Name, history: &history{states: map[string][]State{}}}
	cfg.Meta = func() Meta { return testMeta(n.name, n.index.Load()) }
	cfg.OnChange = n.history.record
	n.cfg = cfg
	l, err := Start(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	n.List = l
	t.Cleanup(func() { _ = l.Shutdown() })
	return n
}

// startCluster starts count plaintext or keyed nodes n0..n{count-1}, all
// joined through n0.
func startCluster(t *testing.T, count int, keys ...[]byte) []*testNode {
	t.Helper()
	nodes := make([]*testNode, count)
	for i := range nodes {
		nodes[i] = startNode(t, newTestConfig(fmt.Sprintf("n%d", i), keys...))
		if i > 0 {
			if _, err := nodes[i].Join([]string{nodes[0].Addr()}); err != nil {
				t.Fatalf("n%d join: %v", i, err)
			}
		}
	}
	return nodes
}

// waitFor polls cond every 10 ms until it holds or waitTimeout passes, then
// fails with what and the last detail cond returned.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", waitTimeout, what, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seesState reports whether every observer sees name in state.
func seesState(observers []*testNode, name string, state State) func() (bool, string) {
	return func() (bool, string) {
		for _, o := range observers {
			p, ok := o.Peer(name)
			if !ok || p.State != state {
				return false, fmt.Sprintf("%s sees %s as %q (known: %v)", o.name, name, p.State, ok)
			}
		}
		return true, ""
	}
}
