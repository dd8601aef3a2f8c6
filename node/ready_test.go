package node

import (
	"strings"
	"testing"
)

// TestReady: members of a running federation are ready; a member whose
// only peer stops is not, and says why; a single node is ready alone.
func TestReady(t *testing.T) {
	nodes := startFed(t, "s1", "hcm")
	s1, hcm := nodes["s1"], nodes["hcm"]
	for _, n := range []*Node{s1, hcm} {
		waitFor(t, n.cfg.Name+" is ready", func() bool { return n.Ready().Ready })
	}
	s1.Close()
	waitFor(t, "hcm is not ready once s1 stops", func() bool { return !hcm.Ready().Ready })
	r := hcm.Ready()
	if r.Checks["store"] != "ok" || r.Checks["metadata"] != "ok" || !strings.Contains(r.Checks["links"], "connected to none of the 1 other members") {
		t.Fatalf("hcm cut off: %+v", r)
	}

	cfg := DefaultConfig("solo")
	cfg.API.Listen = "127.0.0.1:0"
	dir := t.TempDir() + "/solo"
	if _, err := Init(dir, cfg); err != nil {
		t.Fatal(err)
	}
	cfg, _ = LoadConfig(dir)
	solo, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer solo.Close()
	if r := solo.Ready(); !r.Ready {
		t.Fatalf("a single node: %+v", r)
	}
}
