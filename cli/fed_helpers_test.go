package cli_test

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
	"testing"
	"time"

	"github.com/lienthong/lienthong/cli"
	"github.com/lienthong/lienthong/cli/internal/fed"
	"github.com/lienthong/lienthong/node"
)

// Helpers for the federation end-to-end tests: a cluster of real
// `lienthong start` processes on loopback, each with its own directory,
// ports, tokens and log file.

// fedNode is one node of a test federation: a fed.Node, with its fields
// under the short names the tests use.
type fedNode struct {
	*fed.Node
	name   string
	ip     string // the loopback address it binds, 127.0.0.1 unless newFedClusterOn gave it its own
	seed   bool
	dir    string
	peerID string
	admin  string
	write  string
	read   string
	log    string // path of the log file (appended to across restarts)
}

func (n *fedNode) bound() node.Addresses { return n.Addresses() }

// addr is the node's full libp2p address, for --join.
func (n *fedNode) addr() string { return n.P2P() }

// p2p is the node's libp2p address without its peer ID.
func (n *fedNode) p2p() string { return strings.TrimSuffix(n.addr(), "/p2p/"+n.peerID) }

// url is the node's API base URL.
func (n *fedNode) url() string { return n.URL() }

// kill stops the node's process with SIGKILL and waits for it to exit.
func (n *fedNode) kill() { n.Kill() }

type fedCluster struct {
	t     *testing.T
	nodes map[string]*fedNode
	names []string // in start order
}

func (c *fedCluster) node(name string) *fedNode { return c.nodes[name] }

// running returns the names of the nodes whose process is running.
func (c *fedCluster) running() []string {
	var out []string
	for _, name := range c.names {
		if c.nodes[name].Running() {
			out = append(out, name)
		}
	}
	return out
}

// newFedCluster launches the seeds and members with fed.Launch: the first
// seed with --bootstrap, every other node admitted through its API and
// started with --join. It does not wait for voters or gossip.
func newFedCluster(t *testing.T, seeds, members []string) *fedCluster {
	t.Helper()
	return newFedClusterOn(t, seeds, members, nil)
}

// newFedClusterOn is newFedCluster with node name bound, for its API, libp2p
// and gossip, to the loopback IP ips[name] (e.g. 127.0.0.5), so that rules
// on addresses can cut its links; a node not in ips binds 127.0.0.1.
func newFedClusterOn(t *testing.T, seeds, members []string, ips map[string]string) *fedCluster {
	t.Helper()
	c := &fedCluster{t: t, nodes: map[string]*fedNode{}}
	var specs []fed.Spec
	for i, name := range append(slices.Clone(seeds), members...) {
		s := fed.Spec{Name: name, Seed: i < len(seeds)}
		if ip, ok := ips[name]; ok {
			s.API, s.P2P, s.Gossip = ip+":0", "/ip4/"+ip+"/tcp/0", ip+":0"
		}
		specs = append(specs, s)
	}
	f, err := fed.Launch(context.Background(), fed.Config{Bin: lienthongBinary(t), Dir: t.TempDir(),
		Flags: []string{"--fast-timers", "--log-level", "info"}, Progress: t.Logf}, specs)
	if f != nil {
		for _, fn := range f.Nodes {
			ip := "127.0.0.1"
			if v, ok := ips[fn.Name]; ok {
				ip = v
			}
			c.nodes[fn.Name] = &fedNode{Node: fn, name: fn.Name, ip: ip, seed: fn.Seed, dir: fn.Dir, peerID: fn.PeerID,
				admin: fn.AdminToken, write: fn.WriteToken, read: fn.ReadToken, log: fn.Log}
			c.names = append(c.names, fn.Name)
		}
		t.Cleanup(func() {
			f.Kill()
			if t.Failed() {
				for _, name := range c.names {
					t.Logf("---- last lines of the log of %s (%s) ----\n%s", name, c.nodes[name].log, tail(c.nodes[name].log, 40))
				}
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start starts the node's process (extra are flags after --dir) and waits
// until its API answers.
func (c *fedCluster) start(name string, extra ...string) {
	c.t.Helper()
	if err := c.startErr(name, extra...); err != nil {
		c.t.Fatal(err)
	}
}

// startErr is start for goroutines other than the test's.
func (c *fedCluster) startErr(name string, extra ...string) error {
	n := c.nodes[name]
	if err := n.Start(context.Background(), extra...); err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(n.log, 30))
	}
	return nil
}

func (c *fedCluster) kill(name string) { c.nodes[name].kill() }

// restart starts a stopped node again from its directory (it remembers that
// it is federated: no --bootstrap or --join).
func (c *fedCluster) restart(name string) {
	c.t.Helper()
	n := c.nodes[name]
	if err := n.Restart(context.Background(), 10*time.Second); err != nil {
		c.t.Fatalf("%v:\n%s", err, tail(n.log, 30))
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// waitFor polls cond until it holds or the deadline passes; cond returns a
// description of what it saw, for the failure message.
func (c *fedCluster) waitFor(d time.Duration, what string, cond func() (bool, string)) time.Duration {
	c.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < d {
		var ok bool
		if ok, last = cond(); ok {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("waited %s for %s; last seen: %s", d, what, last)
	return 0
}

// httpClient retries after 503 as the CLI does (an owner holds its writes
// for a moment after it starts).
var httpClient = cli.RetryingClient(10*time.Second, 5*time.Second)

// apiResp is an API response: status and body.
type apiResp struct {
	status int
	body   []byte
}

// errorBody decodes an error response.
func (r apiResp) errorBody() (code, msg string) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code, e.Error.Message
}

func (r apiResp) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// call sends a request to node n's API with n's admin token. body is sent as
// is when it is []byte, else as JSON.
func (c *fedCluster) call(name, method, path string, body any) (apiResp, error) {
	return callAPI(httpClient, c.nodes[name], method, path, body)
}

func callAPI(hc *http.Client, n *fedNode, method, path string, body any) (apiResp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return apiResp{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, n.url()+path, rd)
	if err != nil {
		return apiResp{}, err
	}
	req.Header.Set("Authorization", "Bearer "+n.admin)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return apiResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResp{}, err
	}
	return apiResp{resp.StatusCode, b}, nil
}

// mustCall is call that fails the test unless the answer has status want.
func (c *fedCluster) mustCall(name, method, path string, body any, want int) apiResp {
	c.t.Helper()
	r, err := c.call(name, method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s on %s: %v", method, path, name, err)
	}
	if r.status != want {
		c.t.Fatalf("%s %s on %s: got %s, want status %d", method, path, name, r, want)
	}
	return r
}

// metaIndexOf decodes {"meta_index": N} from a write's response.
func metaIndexOf(t *testing.T, r apiResp) uint64 {
	t.Helper()
	var v struct {
		MetaIndex uint64 `json:"meta_index"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.MetaIndex == 0 {
		t.Fatalf("no meta_index in %s (%v)", r, err)
	}
	return v.MetaIndex
}

// metaStatus is the body of GET /v1/meta.
type metaStatus struct {
	MetaIndex uint64 `json:"meta_index"`
	Federated bool   `json:"federated"`
	Control   *struct {
		State        string   `json:"state"`
		Leader       string   `json:"leader"`
		Voters       []string `json:"voters"`
		Nonvoters    []string `json:"nonvoters"`
		AppliedIndex uint64   `json:"applied_index"`
		CommitIndex  string   `json:"commit_index"`
		MetaIndex    uint64   `json:"meta_index"`
	} `json:"control"`
	Members []memberStatus `json:"members"`
}

type memberStatus struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	PeerID    string `json:"peer_id"`
	State     string `json:"state"`
	MetaIndex uint64 `json:"meta_index"`
}

// meta returns the node's GET /v1/meta, linearizable if consistent.
func (c *fedCluster) meta(name string, consistent bool) (metaStatus, error) {
	path := "/v1/meta"
	if consistent {
		path += "?consistent=true"
	}
	r, err := c.call(name, "GET", path, nil)
	if err != nil {
		return metaStatus{}, err
	}
	if r.status != http.StatusOK {
		return metaStatus{}, fmt.Errorf("GET %s on %s: %s", path, name, r)
	}
	var st metaStatus
	if err := json.Unmarshal(r.body, &st); err != nil {
		return metaStatus{}, fmt.Errorf("GET %s on %s: %v: %s", path, name, err, r.body)
	}
	return st, nil
}

// leader returns the leader as the given running node sees it, confirmed by
// the leader itself.
func (c *fedCluster) leader() (string, error) {
	var errs []error
	for _, name := range c.running() {
		st, err := c.meta(name, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Control != nil && st.Control.State == "Leader" {
			return name, nil
		}
	}
	return "", fmt.Errorf("no running node is the leader: %w", errors.Join(errs...))
}

// waitLeader waits for a leader among the running nodes.
func (c *fedCluster) waitLeader(d time.Duration) string {
	c.t.Helper()
	var l string
	c.waitFor(d, "a leader", func() (bool, string) {
		var err error
		l, err = c.leader()
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return l
}

// follower returns a seed that does not lead (its writes are forwarded).
func (c *fedCluster) follower() string {
	c.t.Helper()
	l := c.waitLeader(10 * time.Second)
	for _, name := range c.names {
		if n := c.nodes[name]; n.seed && name != l {
			return name
		}
	}
	c.t.Fatalf("no seed other than the leader %s", l)
	return ""
}

// waitHealthy waits until the first seed reports voters = seeds, non-voters =
// members, and every member alive, and every node knows the leader.
func (c *fedCluster) waitHealthy(d time.Duration, seeds, members []string) time.Duration {
	c.t.Helper()
	return c.waitFor(d, fmt.Sprintf("voters %v, non-voters %v, all alive", seeds, members), func() (bool, string) {
		l, err := c.leader()
		if err != nil {
			return false, err.Error()
		}
		st, err := c.meta(l, false)
		if err != nil {
			return false, err.Error()
		}
		if !slices.Equal(st.Control.Voters, seeds) || !slices.Equal(st.Control.Nonvoters, members) {
			return false, fmt.Sprintf("leader %s: voters %v non-voters %v", l, st.Control.Voters, st.Control.Nonvoters)
		}
		if len(st.Members) != len(seeds)+len(members) {
			return false, fmt.Sprintf("members %+v", st.Members)
		}
		for _, m := range st.Members {
			if m.State != "alive" {
				return false, fmt.Sprintf("members %+v", st.Members)
			}
		}
		for _, name := range c.running() {
			st, err := c.meta(name, false)
			if err != nil || st.Control == nil || st.Control.Leader != l {
				return false, fmt.Sprintf("%s does not know leader %s: %+v %v", name, l, st.Control, err)
			}
		}
		return true, ""
	})
}

// waitConverged waits until every running node reports meta_index >= idx
// and returns the time it took.
func (c *fedCluster) waitConverged(d time.Duration, idx uint64) time.Duration {
	c.t.Helper()
	return c.waitFor(d, fmt.Sprintf("every running node at meta_index >= %d", idx), func() (bool, string) {
		var seen []string
		ok := true
		for _, name := range c.running() {
			st, err := c.meta(name, false)
			if err != nil {
				return false, err.Error()
			}
			seen = append(seen, fmt.Sprintf("%s:%d", name, st.MetaIndex))
			ok = ok && st.MetaIndex >= idx
		}
		return ok, strings.Join(seen, " ")
	})
}

// schemaFile reads an example schema.
func schemaFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "examples", "schemas", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
