package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lienthong/lienthong/cli/internal/fed"
	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/sim/gen"
)

// nodes are the demo federation: the national data centre's seed, two
// provinces and the health ministry. Ports are base+i.
var nodes = []struct {
	name string
	seed bool
}{
	{"ndc", true}, {"hcm", false}, {"hanoi", false}, {"moh", false},
}

// Options are what demo up was asked for.
type Options struct {
	// Bin is the lienthong binary: the demo runs it for the nodes, the
	// imports and the write it shows.
	Bin string
	// Dir holds the nodes; it is removed and recreated.
	Dir string
	// APIPort is the first node's API port; the others follow, libp2p at
	// +100, gossip at +200. Zero binds port 0 everywhere.
	APIPort int
	// Count is the number of generated citizens.
	Count int
}

// Up stops a demo already in o.Dir, starts the demo federation there with
// the sample dictionary and data, shows a change replicating, and prints
// to stdout what to try next; its progress goes to stderr. The node
// processes outlive it: Stop ends them.
func Up(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	Stop(o.Dir, stderr)
	if err := os.RemoveAll(o.Dir); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(stderr, "demo: "+format+"\n", a...) }
	port := func(off int) string { return strconv.Itoa(o.APIPort + off) }
	var specs []fed.Spec
	for i, d := range nodes {
		s := fed.Spec{Name: d.name, Seed: d.seed}
		if o.APIPort != 0 {
			for _, off := range []int{0, 100, 200} {
				addr := "127.0.0.1:" + port(off+i)
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("port %s is in use; choose other ports with --api-port (the demo uses P..P+3, P+100..P+103, P+200..P+203)", addr)
				}
				l.Close()
			}
			s.API, s.P2P, s.Gossip = "127.0.0.1:"+port(i), "/ip4/127.0.0.1/tcp/"+port(100+i), "127.0.0.1:"+port(200+i)
		}
		specs = append(specs, s)
	}
	f, err := fed.Launch(ctx, fed.Config{Bin: o.Bin, Dir: o.Dir, Detach: true, Progress: say}, specs)
	if err != nil {
		return err
	}
	var pids bytes.Buffer
	for _, n := range f.Nodes {
		fmt.Fprintln(&pids, n.PID())
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "pids"), pids.Bytes(), 0o600); err != nil {
		return err
	}
	seed := f.Nodes[0]
	types, err := examples.EntityTypes()
	if err != nil {
		return err
	}
	for _, t := range types {
		if err := seed.Call(ctx, "PUT", "/v1/schemas/"+t.Name, t, nil); err != nil {
			return err
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		return err
	}
	names := []string{}
	for _, n := range f.Nodes {
		names = append(names, n.Name)
	}
	for _, d := range dss {
		demoDataset(d, names)
		if err := seed.Call(ctx, "PUT", "/v1/datasets/"+d.Name, d, nil); err != nil {
			return err
		}
	}
	var st node.MetaStatus
	if err := seed.Call(ctx, "GET", "/v1/meta", nil, &st); err != nil {
		return err
	}
	index := st.MetaIndex
	for _, n := range f.Nodes {
		if err := n.WaitMeta(ctx, "it has the dictionary", func(st node.MetaStatus) bool { return st.MetaIndex >= index }); err != nil {
			return err
		}
	}
	say("every node has the dictionary and datasets (metadata index %d)", index)
	citizens := filepath.Join(o.Dir, "citizens.jsonl")
	parcels := filepath.Join(o.Dir, "parcels-79.jsonl")
	if err := writeGen(citizens, "citizen", nil, o.Count); err != nil {
		return err
	}
	if err := writeGen(parcels, "land_parcel", []string{"79"}, o.Count/10); err != nil {
		return err
	}
	moh, hcm := f.Node("moh"), f.Node("hcm")
	for _, load := range []struct {
		at      *fed.Node
		dataset string
		file    string
	}{{seed, "population.identity", citizens}, {moh, "health.insurance", citizens}, {hcm, "land.79", parcels}} {
		cmd := exec.CommandContext(ctx, o.Bin, "import", load.dataset, load.file, "--drop-other-fields", "--api", load.at.URL(), "--token", load.at.AdminToken)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("import %s at %s failed", load.dataset, load.at.Name)
		}
	}
	first, err := firstKey(citizens)
	if err != nil {
		return err
	}
	say("moh records a clinic visit of citizen %s; watching it reach ndc", first)
	// Through the CLI, which waits out the moment an owner holds its
	// writes after it starts.
	if out, err := exec.CommandContext(ctx, o.Bin, "patch", "health.insurance", first, `{"clinic_visits":{"increment":1}}`,
		"--api", moh.URL(), "--token", moh.AdminToken).CombinedOutput(); err != nil {
		return fmt.Errorf("patch health.insurance %s at moh: %w: %s", first, err, bytes.TrimSpace(out))
	}
	t0 := time.Now()
	for {
		var ent struct {
			Datasets []string `json:"datasets"`
		}
		if err := seed.Call(ctx, "GET", "/v1/entities/citizen/"+first, nil, &ent); err == nil && slices.Contains(ent.Datasets, "health.insurance") {
			break
		}
		if time.Since(t0) > 60*time.Second {
			return errors.New("the change did not reach ndc within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(stdout, `
A local federation is running (logs in %[1]s/*/node.log):
  ndc    seed, national data centre   %[2]s   owns population.identity, reference.*
  hcm    province 79                  %[3]s   owns land.79
  hanoi  province 01                  %[4]s   owns land.01
  moh    ministry of health           %[5]s   owns health.insurance

The merged citizen at ndc (identity from ndc, insurance replicated from moh):
  %[6]s get citizen %[7]s --api %[2]s --token %[8]s --provenance

hcm may not read health.insurance, so it has none of it:
  %[6]s get citizen %[7]s --api %[3]s --token %[9]s

Stop moh, write while it is down, restart it and watch it catch up:
  kill $(pgrep -f 'start --dir %[1]s/moh')
  %[6]s patch population.identity %[7]s '{"ethnicity":"Tày"}' --api %[2]s --token %[8]s
  %[6]s start --dir %[1]s/moh &
  %[6]s changes --follow --api %[5]s --token %[10]s
  %[6]s verify --api %[5]s --token %[10]s

Status of a node, and the federation's metadata:
  %[6]s status --api %[2]s --token %[8]s
  %[6]s meta status --api %[2]s --token %[8]s

Stop everything: make demo-stop   (or %[6]s demo stop --dir %[1]s)
`, o.Dir, seed.URL(), hcm.URL(), f.Nodes[2].URL(), moh.URL(), o.Bin, first, seed.AdminToken, hcm.AdminToken, moh.AdminToken)
	return nil
}

// demoDataset adapts a sample dataset to the demo's members: a missing
// owner is replaced by ndc, missing readers are dropped, ndc reads all.
func demoDataset(d *dict.Dataset, members []string) {
	if !slices.Contains(members, d.Owner) {
		d.Owner = "ndc"
	}
	readers := []string{}
	for _, r := range append(d.Readers, "ndc") {
		if slices.Contains(members, r) && r != d.Owner && !slices.Contains(readers, r) {
			readers = append(readers, r)
		}
	}
	if d.Name == "population.identity" {
		readers = []string{"hanoi", "hcm", "moh"}
	}
	d.Readers = readers
}

func writeGen(path, kind string, provinces []string, n int) error {
	g, err := gen.NewWithProvinces(kind, 1, provinces)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := g.WriteJSONL(f, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func firstKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var r struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return "", err
	}
	return r.Key, nil
}

// Stop stops the node processes of the demo in dir: those demo up started
// and any an operator restarted by hand. It reports how many to stderr.
func Stop(dir string, stderr io.Writer) error {
	// The nodes started by demo up, and any an operator restarted by hand
	// (lienthong start --dir DIR/NODE), found by their command lines.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var pids []int
	if b, err := os.ReadFile(filepath.Join(dir, "pids")); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for i, a := range args {
			if a == "--dir" && i+1 < len(args) && slices.Contains(args, "start") {
				if d, err := filepath.Abs(args[i+1]); err == nil && strings.HasPrefix(d, abs+string(filepath.Separator)) {
					if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
						pids = append(pids, pid)
					}
				}
			}
		}
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	if len(pids) > 0 {
		fmt.Fprintf(stderr, "demo: stopped %d node processes\n", len(slices.Compact(slices.Sorted(slices.Values(pids)))))
	}
	if err := os.Remove(filepath.Join(dir, "pids")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
