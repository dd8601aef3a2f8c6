package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/sim/gen"
)

func init() {
	register(&command{name: "demo up", args: "--dir D", short: "start a local federation (a seed, two provinces, a ministry) with sample data", run: runDemoUp})
	register(&command{name: "demo stop", args: "--dir D", short: "stop the nodes of a demo federation", run: runDemoStop})
}

// demoNodes are the demo federation: the national data centre's seed, two
// provinces and the health ministry. Ports are base+i.
var demoNodes = []struct{ name, role string }{
	{"ndc", "seed"}, {"hcm", "member"}, {"hanoi", "member"}, {"moh", "member"},
}

type demoNode struct {
	node.InitResult
	Dir, P2P string
	client   *Client
}

func runDemoUp(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "demo up", "--dir D [--api-port P] [--count N]")
	dir := fs.String("dir", "", "directory for the nodes (required; removed and recreated)")
	apiPort := fs.Int("api-port", 7071, "API port of the first node; the others follow (0: every node binds free ports, found in its addresses.json)")
	count := fs.Int("count", 10000, "generated citizens")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	runDemoStop(ctx, io, []string{"--dir", *dir})
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(io.Err, "demo: "+format+"\n", a...) }
	portAt := func(off int) string {
		if *apiPort == 0 {
			return "0"
		}
		return strconv.Itoa(*apiPort + off)
	}
	for i := range demoNodes {
		if *apiPort == 0 {
			break
		}
		for _, off := range []int{0, 100, 200} {
			addr := "127.0.0.1:" + strconv.Itoa(*apiPort+off+i)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("port %s is in use; choose other ports with --api-port (the demo uses P..P+3, P+100..P+103, P+200..P+203)", addr)
			}
			l.Close()
		}
	}
	var nodes []*demoNode
	for i, d := range demoNodes {
		api := "127.0.0.1:" + portAt(i)
		p2p := "/ip4/127.0.0.1/tcp/" + portAt(100+i)
		gossip := "127.0.0.1:" + portAt(200+i)
		res, err := initNode(filepath.Join(*dir, d.name), d.name, api, p2p, gossip, d.role, false)
		if err != nil {
			return err
		}
		n := &demoNode{InitResult: *res, Dir: res.Dir}
		n.client = &Client{base: res.APIURL, token: res.AdminToken, http: newHTTPClient(time.Minute)}
		nodes = append(nodes, n)
	}
	start := func(n *demoNode, extra ...string) error {
		logf, err := os.OpenFile(filepath.Join(n.Dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		cmd := exec.Command(self, append([]string{"start", "--dir", n.Dir}, extra...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command
		if err := cmd.Start(); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(*dir, "pids"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err = fmt.Fprintln(f, cmd.Process.Pid); err != nil {
			return err
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		// What it bound: the configured ports, or the ones it picked.
		a, err := waitAddresses(ctx, n.Dir, cmd.Process.Pid, exited, time.Minute)
		if err != nil {
			return err
		}
		if len(a.P2P) == 0 {
			return fmt.Errorf("%s: no libp2p address in %s/%s", n.Name, n.Dir, node.AddressesFile)
		}
		n.APIURL, n.client.base, n.P2P = "http://"+a.API, "http://"+a.API, a.P2P[0]
		return nil
	}
	waitMeta := func(n *demoNode, what string, ok func(node.MetaStatus) bool) error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var st node.MetaStatus
			if err := n.client.do(ctx, "GET", "/v1/meta", nil, &st); err == nil && ok(st) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: timed out waiting until %s (see %s/node.log)", n.Name, what, n.Dir)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	seed := nodes[0]
	say("starting %s, the seed that creates the federation", seed.Name)
	if err := start(seed, "--bootstrap"); err != nil {
		return err
	}
	if err := waitMeta(seed, "it leads", func(st node.MetaStatus) bool {
		return st.Control != nil && st.Control.State == "Leader" && len(st.Members) == 1
	}); err != nil {
		return err
	}
	for _, n := range nodes[1:] {
		if err := seed.client.do(ctx, "PUT", "/v1/members/"+n.Name, map[string]string{"role": "member", "peer_id": n.PeerID}, nil); err != nil {
			return err
		}
		say("admitted %s; starting it", n.Name)
		if err := start(n, "--join", seed.P2P); err != nil {
			return err
		}
	}
	types, err := examples.EntityTypes()
	if err != nil {
		return err
	}
	for _, t := range types {
		b, _ := json.Marshal(t)
		if err := seed.client.do(ctx, "PUT", "/v1/schemas/"+t.Name, b, nil); err != nil {
			return err
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		return err
	}
	names := []string{}
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	for _, d := range dss {
		demoDataset(d, names)
		b, _ := json.Marshal(d)
		if err := seed.client.do(ctx, "PUT", "/v1/datasets/"+d.Name, b, nil); err != nil {
			return err
		}
	}
	var index uint64
	var st node.MetaStatus
	if err := seed.client.do(ctx, "GET", "/v1/meta", nil, &st); err != nil {
		return err
	}
	index = st.MetaIndex
	for _, n := range nodes {
		if err := waitMeta(n, "it has the dictionary", func(st node.MetaStatus) bool { return st.MetaIndex >= index }); err != nil {
			return err
		}
	}
	say("every node has the dictionary and datasets (metadata index %d)", index)
	citizens := filepath.Join(*dir, "citizens.jsonl")
	parcels := filepath.Join(*dir, "parcels-79.jsonl")
	if err := writeGen(citizens, "citizen", nil, *count); err != nil {
		return err
	}
	if err := writeGen(parcels, "land_parcel", []string{"79"}, *count/10); err != nil {
		return err
	}
	for _, load := range []struct {
		at      *demoNode
		dataset string
		file    string
	}{{seed, "population.identity", citizens}, {nodes[3], "health.insurance", citizens}, {nodes[1], "land.79", parcels}} {
		code := Main(ctx, []string{"import", load.dataset, load.file, "--drop-other-fields", "--api", load.at.APIURL, "--token", load.at.AdminToken}, io)
		if code != ExitOK {
			return fmt.Errorf("import %s at %s failed", load.dataset, load.at.Name)
		}
	}
	first, err := firstKey(citizens)
	if err != nil {
		return err
	}
	moh, hcm := nodes[3], nodes[1]
	say("moh records a clinic visit of citizen %s; watching it reach ndc", first)
	if err := moh.client.do(ctx, "PATCH", "/v1/datasets/health.insurance/entities/"+first, []byte(`{"clinic_visits":{"increment":1}}`), nil); err != nil {
		return err
	}
	t0 := time.Now()
	for {
		var ent struct {
			Datasets []string `json:"datasets"`
		}
		if err := seed.client.do(ctx, "GET", "/v1/entities/citizen/"+first, nil, &ent); err == nil && slices.Contains(ent.Datasets, "health.insurance") {
			break
		}
		if time.Since(t0) > 60*time.Second {
			return errors.New("the change did not reach ndc within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(io.Out, `
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
`, *dir, seed.APIURL, hcm.APIURL, nodes[2].APIURL, moh.APIURL, self, first, seed.AdminToken, hcm.AdminToken, moh.AdminToken)
	return nil
}

// waitAddresses waits until the node process pid, started in dir, has
// written its addresses file; exited is closed if the process ends.
func waitAddresses(ctx context.Context, dir string, pid int, exited <-chan struct{}, timeout time.Duration) (node.Addresses, error) {
	deadline := time.Now().Add(timeout)
	for {
		a, err := node.ReadAddresses(dir)
		if err == nil && a.PID == pid {
			return a, nil
		}
		if err == nil {
			err = fmt.Errorf("%s is from process %d, not %d", node.AddressesFile, a.PID, pid)
		}
		if time.Now().After(deadline) {
			return node.Addresses{}, fmt.Errorf("node in %s did not report its addresses within %s: %w (see %s/node.log)", dir, timeout, err, dir)
		}
		select {
		case <-ctx.Done():
			return node.Addresses{}, ctx.Err()
		case <-exited:
			return node.Addresses{}, fmt.Errorf("node in %s exited at start (see %s/node.log)", dir, dir)
		case <-time.After(50 * time.Millisecond):
		}
	}
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

func runDemoStop(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "demo stop", "--dir D")
	dir := fs.String("dir", "", "directory of the demo (required)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	// The nodes started by demo up, and any an operator restarted by hand
	// (lienthong start --dir DIR/NODE), found by their command lines.
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	var pids []int
	if b, err := os.ReadFile(filepath.Join(*dir, "pids")); err == nil {
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
		fmt.Fprintf(io.Err, "demo: stopped %d node processes\n", len(slices.Compact(slices.Sorted(slices.Values(pids)))))
	}
	if err := os.Remove(filepath.Join(*dir, "pids")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
