package member

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStateViewAvailable(t *testing.T) {
	n := startNode(t, newTestConfig("solo"))
	if n.view == nil {
		t.Fatal("memberlist's node table is not readable: introspect.go no longer matches the memberlist version in go.mod")
	}
	peers := n.Peers()
	if len(peers) != 1 || peers[0].Name != "solo" || peers[0].State != StateAlive || peers[0].Addr != n.Addr() {
		t.Fatalf("a fresh node should see only itself, alive at %s; got %+v", n.Addr(), peers)
	}
	if strings.HasSuffix(n.Addr(), ":0") {
		t.Fatalf("Addr %s should carry the port picked for :0", n.Addr())
	}
}

func TestJoinPeersAndUpdateMeta(t *testing.T) {
	nodes := startCluster(t, 5)

	waitFor(t, "every node to see all 5 alive with their meta", func() (bool, string) {
		for _, o := range nodes {
			peers := o.Peers()
			if len(peers) != len(nodes) {
				return false, fmt.Sprintf("%s knows %d peers", o.name, len(peers))
			}
			for i, p := range peers { // sorted by name: n0..n4
				want := testMeta(nodes[i].name, 0)
				if p.Name != nodes[i].name || p.State != StateAlive || p.Addr != nodes[i].Addr() ||
					p.Meta.PeerID != want.PeerID || !slices.Equal(p.Meta.Addrs, want.Addrs) {
					return false, fmt.Sprintf("%s sees %+v", o.name, p)
				}
			}
		}
		return true, ""
	})

	nodes[2].index.Store(42)
	if err := nodes[2].UpdateMeta(); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	waitFor(t, "everyone to see n2 at meta index 42", func() (bool, string) {
		for _, o := range nodes {
			if p, _ := o.Peer("n2"); p.Meta.MetaIndex != 42 {
				return false, fmt.Sprintf("%s sees n2 at index %d", o.name, p.Meta.MetaIndex)
			}
		}
		return true, ""
	})
	// OnChange reported it too.
	for _, o := range nodes {
		if h := o.history.of("n2"); len(h) == 0 || h[0] != StateAlive {
			t.Errorf("%s OnChange history for n2 = %v, want it to start alive", o.name, h)
		}
	}

	// Peers hands out copies.
	p := nodes[0].Peers()
	p[0].Meta.Addrs[0] = "mutated"
	if q, _ := nodes[0].Peer(p[0].Name); q.Meta.Addrs[0] == "mutated" {
		t.Fatal("Peers returned a slice shared with the table")
	}
}

func TestCrashSuspectDeadRestartLeave(t *testing.T) {
	nodes := startCluster(t, 5)
	others := nodes[:4]
	victim := nodes[4]
	waitFor(t, "n4 alive everywhere", seesState(others, "n4", StateAlive))

	addr := victim.Addr()
	crashed := time.Now()
	if err := victim.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n4 dead everywhere after a crash", seesState(others, "n4", StateDead))
	t.Logf("n4 declared dead everywhere %v after the crash", time.Since(crashed).Round(time.Millisecond))
	for _, o := range others {
		h := o.history.of("n4")
		si, di := slices.Index(h, StateSuspect), slices.Index(h, StateDead)
		if si < 0 || di < si {
			t.Errorf("%s saw n4 go %v; want suspect before dead", o.name, h)
		}
		if p, _ := o.Peer("n4"); p.Since.Before(crashed) {
			t.Errorf("%s: n4 dead since %v, before the crash at %v", o.name, p.Since, crashed)
		}
	}

	// Restart with the same name and address: it refutes its death.
	cfg := victim.cfg
	cfg.BindAddr = addr
	reborn := startNode(t, cfg)
	if _, err := reborn.Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	waitFor(t, "n4 alive again everywhere", seesState(others, "n4", StateAlive))
	waitFor(t, "the restarted n4 to see the others alive", func() (bool, string) {
		for _, o := range others {
			if p, ok := reborn.Peer(o.name); !ok || p.State != StateAlive {
				return false, fmt.Sprintf("n4 sees %s as %q", o.name, p.State)
			}
		}
		return true, ""
	})

	// A graceful leave is told apart from a failure.
	if err := reborn.Leave(2 * time.Second); err != nil {
		t.Fatalf("leave: %v", err)
	}
	waitFor(t, "n4 left everywhere", seesState(others, "n4", StateLeft))
	if p, _ := reborn.Peer("n4"); p.State != StateLeft {
		t.Errorf("n4 sees itself as %q after Leave, want left", p.State)
	}
	if err := reborn.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := reborn.Leave(time.Second); !errors.Is(err, ErrShutdown) {
		t.Errorf("Leave after Shutdown = %v, want ErrShutdown", err)
	}
	if err := reborn.Shutdown(); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
}

func TestEncryptionAndKeyRotation(t *testing.T) {
	keyA := bytes.Repeat([]byte{'A'}, 32)
	keyB := bytes.Repeat([]byte{'B'}, 16)
	nodes := startCluster(t, 3, keyA)
	waitFor(t, "the key-A cluster to form", func() (bool, string) {
		for _, o := range nodes {
			if ok, d := seesState(nodes, o.name, StateAlive)(); !ok {
				return false, d
			}
		}
		return true, ""
	})

	wrongKey := startNode(t, newTestConfig("wrong-key", keyB))
	if _, err := wrongKey.Join([]string{nodes[0].Addr()}); !errors.Is(err, ErrJoin) {
		t.Errorf("join with the wrong key: err = %v, want ErrJoin", err)
	} else {
		t.Logf("wrong key refused: %v", err)
	}
	plain := startNode(t, newTestConfig("plaintext"))
	if _, err := plain.Join([]string{nodes[0].Addr()}); !errors.Is(err, ErrJoin) {
		t.Errorf("join without a key: err = %v, want ErrJoin", err)
	}

	// Three-step rotation from A to B.
	for _, step := range [][][]byte{{keyA, keyB}, {keyB, keyA}, {keyB}} {
		for _, n := range nodes {
			if err := n.SetKeys(step); err != nil {
				t.Fatalf("%s SetKeys: %v", n.name, err)
			}
		}
		for _, n := range nodes {
			if got := n.keyring.GetKeys(); !bytes.Equal(got[0], step[0]) || len(got) != len(step) {
				t.Fatalf("%s keyring has %d keys, primary %q; want %d, primary %q", n.name, len(got), got[0][:1], len(step), step[0][:1])
			}
		}
	}
	// Nodes that hold only the new key can join through any old member, and
	// everyone converges on one alive cluster.
	newcomer := startNode(t, newTestConfig("newcomer", keyB))
	if _, err := newcomer.Join([]string{nodes[1].Addr()}); err != nil {
		t.Fatalf("join with the new key after rotation: %v", err)
	}
	if _, err := wrongKey.Join([]string{nodes[2].Addr()}); err != nil {
		t.Fatalf("node holding only key B should join after rotation: %v", err)
	}
	all := append(slices.Clone(nodes), newcomer, wrongKey)
	for _, n := range all {
		waitFor(t, n.name+" alive everywhere after rotation", seesState(all, n.name, StateAlive))
	}
	for _, o := range nodes {
		for _, n := range nodes {
			// Not an error: on an overloaded machine probes time out with
			// or without a rotation. A broken rotation fails the waits above.
			if h := o.history.of(n.name); slices.Contains(h, StateDead) {
				t.Logf("%s saw %s go %v during rotation", o.name, n.name, h)
			}
		}
		if _, ok := o.Peer("plaintext"); ok {
			t.Errorf("%s knows the plaintext node", o.name)
		}
	}
	oldKey := startNode(t, newTestConfig("old-key", keyA))
	if _, err := oldKey.Join([]string{nodes[0].Addr()}); !errors.Is(err, ErrJoin) {
		t.Errorf("join with the retired key: err = %v, want ErrJoin", err)
	}

	if err := plain.SetKeys([][]byte{keyB}); !errors.Is(err, ErrNoEncryption) {
		t.Errorf("SetKeys on a plaintext list = %v, want ErrNoEncryption", err)
	}
	if err := nodes[0].SetKeys([][]byte{[]byte("short")}); err == nil {
		t.Error("SetKeys accepted a 5-byte key")
	}
	if err := nodes[0].SetKeys(nil); err == nil {
		t.Error("SetKeys accepted no keys")
	}
}

func TestLargeMetaIsTrimmedNotRejected(t *testing.T) {
	var addrs []string
	for i := range 30 {
		addrs = append(addrs, fmt.Sprintf("/ip4/203.0.113.%d/udp/4001/quic-v1/p2p/12D3KooWBigNode", i))
	}
	big := Meta{Role: "seed", PeerID: "12D3KooWBigNode", Addrs: addrs, MetaIndex: 7}

	cfg := newTestConfig("big")
	cfg.Meta = func() Meta { return big }
	l, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start with oversized meta: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown() })

	b := startNode(t, newTestConfig("small"))
	if _, err := b.Join([]string{l.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "small to see big's trimmed meta", func() (bool, string) {
		p, ok := b.Peer("big")
		if !ok || p.Meta.MetaIndex != 7 {
			return false, fmt.Sprintf("small sees %+v", p)
		}
		if n := len(p.Meta.Addrs); n < 1 || n >= len(addrs) || !slices.Equal(p.Meta.Addrs, addrs[:n]) {
			return false, fmt.Sprintf("small sees %d addrs, want a proper prefix of %d", n, len(addrs))
		}
		return true, ""
	})

	// A meta that cannot fit even with one address is refused by UpdateMeta,
	// which keeps gossiping the previous one.
	big.PeerID = strings.Repeat("x", MaxMetaBytes)
	if err := l.UpdateMeta(); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("UpdateMeta with an impossible meta = %v, want ErrMetaTooLarge", err)
	}
	if p, _ := l.Peer("big"); p.Meta.PeerID != "12D3KooWBigNode" {
		t.Errorf("local meta changed to %q after a failed update", p.Meta.PeerID)
	}
}

func TestJoinErrors(t *testing.T) {
	n := startNode(t, newTestConfig("lonely"))
	if _, err := n.Join(nil); !errors.Is(err, ErrJoin) {
		t.Errorf("Join(nil) = %v, want ErrJoin", err)
	}
	// A closed port on loopback fails fast; the error names the address.
	dead := startNode(t, newTestConfig("gone"))
	addr := dead.Addr()
	_ = dead.Shutdown()
	_, err := n.Join([]string{addr})
	if !errors.Is(err, ErrJoin) || !strings.Contains(err.Error(), addr) {
		t.Errorf("Join(%s) = %v, want ErrJoin naming the address", addr, err)
	}
	// One good address is enough.
	other := startNode(t, newTestConfig("other"))
	if got, err := n.Join([]string{addr, other.Addr()}); err != nil || got != 1 {
		t.Errorf("Join(bad, good) = %d, %v; want 1, nil", got, err)
	}
	_ = n.Shutdown()
	if _, err := n.Join([]string{other.Addr()}); !errors.Is(err, ErrShutdown) {
		t.Errorf("Join after Shutdown = %v, want ErrShutdown", err)
	}
	if err := n.UpdateMeta(); !errors.Is(err, ErrShutdown) {
		t.Errorf("UpdateMeta after Shutdown = %v, want ErrShutdown", err)
	}
}
