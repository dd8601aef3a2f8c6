package fed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lienthong/lienthong/node"
)

// ErrNotRunning is returned for a node whose process is not running.
var ErrNotRunning = errors.New("fed: node not running")

// Spec is one node to launch.
type Spec struct {
	Name string
	Seed bool
	// API (host:port), P2P (a multiaddr) and Gossip (host:port) are the
	// listen addresses the node is initialised with; empty is 127.0.0.1
	// port 0.
	API, P2P, Gossip string
}

// Config is how a federation's nodes run.
type Config struct {
	// Bin is the lienthong binary.
	Bin string
	// Dir holds node NAME in Dir/NAME, its output in Dir/NAME/node.log.
	Dir string
	// Flags are added to every start, after --dir.
	Flags []string
	// Detach gives every node process its own session, so that it outlives
	// the launcher (the demo).
	Detach bool
	// Progress, if not nil, is told of each step of Launch.
	Progress func(format string, args ...any)
}

func (c *Config) say(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(format, args...)
	}
}

// Node is one node of a federation. Its methods may be called from any
// goroutine.
type Node struct {
	// InitResult names the node and holds its directory, peer ID and tokens.
	node.InitResult
	Seed bool
	// Log is the file the process's output is appended to, across starts.
	Log string
	cfg *Config

	mu struct {
		sync.Mutex
		proc  *Process       // nil when not running
		addrs node.Addresses // of the last start; restarts keep them
		bin   string         // the binary of its starts; empty: Config.Bin
	}
}

// Federation is the nodes of Launch, in their order of the specs.
type Federation struct {
	Nodes []*Node
}

// Node returns the node named name, or nil.
func (f *Federation) Node(name string) *Node {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Kill kills every running node and waits for them to exit.
func (f *Federation) Kill() {
	for _, n := range f.Nodes {
		n.Kill()
	}
}

// initNodes initialises a node for each spec under cfg.Dir, without
// starting any.
func initNodes(cfg Config, specs []Spec) (*Federation, error) {
	f := &Federation{}
	c := cfg
	for _, s := range specs {
		nc := node.DefaultConfig(s.Name)
		nc.Role = "member"
		if s.Seed {
			nc.Role = "seed"
		}
		nc.API.Listen, nc.P2P.Listen, nc.Gossip.Listen = or(s.API, "127.0.0.1:0"), []string{or(s.P2P, "/ip4/127.0.0.1/tcp/0")}, or(s.Gossip, "127.0.0.1:0")
		dir := filepath.Join(c.Dir, s.Name)
		res, err := node.Init(dir, nc)
		if err != nil {
			return nil, fmt.Errorf("fed: init %s: %w", s.Name, err)
		}
		f.Nodes = append(f.Nodes, &Node{Seed: s.Seed, InitResult: *res, Log: filepath.Join(dir, "node.log"), cfg: &c})
	}
	return f, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Launch initialises the nodes of specs (the first a seed) and starts the
// federation: the first seed with --bootstrap, waiting until it leads and
// has admitted itself; then, one after the other, it admits every other
// node through the first seed's API and starts it with --join. It does not
// wait for voters or gossip. On an error after the nodes were initialised,
// the nodes it started are killed and the federation is returned with the
// error, so that the caller can read their logs.
func Launch(ctx context.Context, cfg Config, specs []Spec) (_ *Federation, err error) {
	if len(specs) == 0 || !specs[0].Seed {
		return nil, errors.New("fed: the first node must be a seed")
	}
	f, err := initNodes(cfg, specs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Kill()
		}
	}()
	first := f.Nodes[0]
	cfg.say("starting %s, the seed that creates the federation", first.Name)
	if err := first.Start(ctx, "--bootstrap"); err != nil {
		return f, err
	}
	if err := first.WaitMeta(ctx, "it leads and has admitted itself", func(st node.MetaStatus) bool {
		return st.Control != nil && st.Control.State == "Leader" &&
			slices.ContainsFunc(st.Members, func(m node.MemberStatus) bool { return m.Name == first.Name })
	}); err != nil {
		return f, err
	}
	for _, n := range f.Nodes[1:] {
		role := "member"
		if n.Seed {
			role = "seed"
		}
		if err := first.Call(ctx, "PUT", "/v1/members/"+n.Name, map[string]string{"role": role, "peer_id": n.PeerID}, nil); err != nil {
			return f, fmt.Errorf("fed: admit %s: %w", n.Name, err)
		}
		cfg.say("admitted %s; starting it", n.Name)
		if err := n.Start(ctx, "--join", first.P2P()); err != nil {
			return f, err
		}
	}
	return f, nil
}

// Start starts the node's process, `lienthong start --dir DIR` with the
// config's flags and extra, and blocks until it has reported its addresses
// and answers. A restart binds the ports of the first start.
func (n *Node) Start(ctx context.Context, extra ...string) error {
	f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "==== %s: start %v\n", time.Now().Format(time.RFC3339Nano), extra)
	args := append(append([]string{"start", "--dir", n.Dir}, n.cfg.Flags...), extra...)
	p, err := RunPinned(ctx, n.Bin(), n.Dir, f, n.cfg.Detach, n.Addresses(), args...)
	if err != nil {
		f.Close()
		return fmt.Errorf("fed: start %s: %w (see %s)", n.Name, err, n.Log)
	}
	go func() { <-p.Done(); f.Close() }()
	n.mu.Lock()
	n.mu.proc, n.mu.addrs = p, p.Addrs
	n.mu.Unlock()
	return nil
}

// take returns the node's process, nil if none, and forgets it.
func (n *Node) take() *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	n.mu.proc = nil
	return p
}

// Kill stops the node's process with SIGKILL and waits for it to exit; a
// node not running is left as it is.
func (n *Node) Kill() {
	if p := n.take(); p != nil {
		p.Kill()
	}
}

// Stop stops the node's process with SIGTERM and waits for it to exit,
// killing it after timeout (and saying so).
func (n *Node) Stop(timeout time.Duration) error {
	if p := n.take(); p != nil {
		if err := p.Stop(timeout); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return nil
}

// Restart stops the node if it runs and starts it again from its directory
// (it remembers that it is federated: no --bootstrap or --join).
func (n *Node) Restart(ctx context.Context, timeout time.Duration) error {
	return n.Upgrade(ctx, timeout, n.Bin())
}

// Upgrade is Restart with the binary bin, for this start and every later
// one: a step of a rolling upgrade (or of going back).
func (n *Node) Upgrade(ctx context.Context, timeout time.Duration, bin string) error {
	if err := n.Stop(timeout); err != nil {
		return err
	}
	n.mu.Lock()
	n.mu.bin = bin
	n.mu.Unlock()
	return n.Start(ctx)
}

// Bin is the binary the node's next start runs: Config.Bin until Upgrade
// names another.
func (n *Node) Bin() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return or(n.mu.bin, n.cfg.Bin)
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.proc != nil
}

// PID is the node's process id, 0 when it is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.proc == nil {
		return 0
	}
	return n.mu.proc.PID()
}

// Addresses are what the node bound at its last start (zero before one).
func (n *Node) Addresses() node.Addresses {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.addrs
}

// URL is the node's API base URL.
func (n *Node) URL() string { return "http://" + n.Addresses().API }

// P2P is the node's full libp2p address, /p2p/PEER_ID included (for
// --join); empty before its first start.
func (n *Node) P2P() string {
	if a := n.Addresses(); len(a.P2P) > 0 {
		return a.P2P[0]
	}
	return ""
}

// Call sends a request to the node's API with its admin token and decodes
// the answer into out, if not nil; body is sent as JSON. An answer other
// than 2xx is an error that quotes it.
func (n *Node) Call(ctx context.Context, method, path string, body, out any) error {
	if !n.Running() {
		return fmt.Errorf("%w: %s", ErrNotRunning, n.Name)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.URL()+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+n.AdminToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fed: %s %s on %s: %d %s", method, path, n.Name, resp.StatusCode, strings.TrimSpace(b.String()))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b.Bytes(), out)
}

// WaitTimeout bounds WaitMeta.
const WaitTimeout = 60 * time.Second

// WaitMeta polls the node's GET /v1/meta until ok holds, ctx ends or
// WaitTimeout passes; what names the condition in the error.
func (n *Node) WaitMeta(ctx context.Context, what string, ok func(node.MetaStatus) bool) error {
	deadline := time.Now().Add(WaitTimeout)
	var last error
	for {
		var st node.MetaStatus
		err := n.Call(ctx, "GET", "/v1/meta", nil, &st)
		if err == nil && ok(st) {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fed: %s: timed out after %s waiting until %s (last error: %v; see %s)", n.Name, WaitTimeout, what, last, n.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
