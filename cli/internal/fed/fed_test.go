package fed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/node"
)

// lienthong builds the binary the launcher runs.
func lienthong(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lienthong")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/lienthong/lienthong/cli/lienthong").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestLaunch: a seed and a member come up on ports they picked, the member
// admitted and joined; a killed member restarts on the same ports, and a
// stopped one is not running.
func TestLaunch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two node processes")
	}
	ctx := context.Background()
	cfg := Config{Bin: lienthong(t), Dir: t.TempDir(), Flags: []string{"--fast-timers"}, Progress: t.Logf}
	if _, err := Launch(ctx, cfg, []Spec{{Name: "m1"}}); err == nil {
		t.Fatal("Launch with a member first: no error")
	}
	f, err := Launch(ctx, cfg, []Spec{{Name: "s1", Seed: true}, {Name: "m1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Kill)
	m1 := f.Node("m1")
	for _, n := range f.Nodes {
		a := n.Addresses()
		if strings.HasSuffix(a.API, ":0") || !strings.HasSuffix(n.P2P(), "/p2p/"+n.PeerID) || n.PID() == 0 || a.PID != n.PID() {
			t.Fatalf("%s: addresses %+v, pid %d", n.Name, a, n.PID())
		}
	}
	members := func(want int) func(node.MetaStatus) bool {
		return func(st node.MetaStatus) bool { return len(st.Members) == want }
	}
	for _, n := range f.Nodes {
		if err := n.WaitMeta(ctx, "both members are listed", members(2)); err != nil {
			t.Fatal(err)
		}
	}
	before := m1.Addresses()
	m1.Kill()
	if m1.Running() || m1.PID() != 0 {
		t.Fatal("m1 still running after Kill")
	}
	if err := m1.Restart(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if after := m1.Addresses(); after.API != before.API || after.Gossip != before.Gossip || after.P2P[0] != before.P2P[0] {
		t.Fatalf("restart moved m1 from %+v to %+v", before, after)
	}
	if err := m1.WaitMeta(ctx, "m1 sees both members again", members(2)); err != nil {
		t.Fatal(err)
	}
	// An upgrade runs another binary on the same directory, and so does
	// every later restart.
	other := filepath.Join(t.TempDir(), "lienthong-new")
	if err := os.Link(cfg.Bin, other); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return m1.Upgrade(ctx, 10*time.Second, other) },
		func() error { return m1.Restart(ctx, 10*time.Second) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", m1.PID())); err != nil || exe != other || m1.Bin() != other {
			t.Fatalf("m1 runs %q (%v), Bin %q; want %s", exe, err, m1.Bin(), other)
		}
	}
	if err := m1.WaitMeta(ctx, "m1 upgraded sees both members", members(2)); err != nil {
		t.Fatal(err)
	}
	if err := m1.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m1.Call(ctx, "GET", "/v1/meta", nil, nil); err == nil {
		t.Fatal("Call on a stopped node: no error")
	}
}
