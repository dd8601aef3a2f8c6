package fed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lienthong/lienthong/node"
)

// ErrExitedAtStart is returned by Run when the node process ends before it
// has written its addresses and answered.
var ErrExitedAtStart = errors.New("fed: node exited at start")

// StartTimeout bounds how long Run waits for a node to report its
// addresses and answer on its API.
const StartTimeout = 60 * time.Second

// client is the launcher's HTTP client: no request of it may hang a wait.
var client = &http.Client{Timeout: 10 * time.Second}

// Process is a running node process. Its methods may be called from any
// goroutine.
type Process struct {
	// Addrs are what the process bound, from its addresses file.
	Addrs node.Addresses
	cmd   *exec.Cmd
	done  chan struct{}
}

// Run runs bin with args (a start command for the node in dir), its output
// to out, and blocks until the process has written its addresses file and
// its API answers /healthz, or ctx ends, or StartTimeout passes. With
// detach the process gets its own session, so that it outlives the caller
// and a terminal's Ctrl-C. On error the process is killed; the error wraps
// ErrExitedAtStart if it ended by itself.
func Run(ctx context.Context, bin, dir string, out io.Writer, detach bool, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(StartTimeout)
	for {
		a, err := node.ReadAddresses(dir)
		if err == nil && a.PID != cmd.Process.Pid {
			err = fmt.Errorf("%s is from process %d, not %d", node.AddressesFile, a.PID, cmd.Process.Pid)
		}
		if err == nil {
			var resp *http.Response
			// Plain HTTP even to a TLS API: any answer says it listens.
			if resp, err = client.Get("http://" + a.API + "/healthz"); err == nil {
				resp.Body.Close()
				p.Addrs = a
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("fed: node in %s did not report its addresses and answer within %s: %w", dir, StartTimeout, err)
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%w: %s", ErrExitedAtStart, dir)
		case <-ctx.Done():
			p.Kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PID is the process's id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is how the process exited; valid once Done is closed.
func (p *Process) Exit() *os.ProcessState { return p.cmd.ProcessState }

// Kill stops the process with SIGKILL and blocks until it has exited.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and blocks until the process exits; after timeout it
// kills it and says so.
func (p *Process) Stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("fed: process %d did not exit within %s of SIGTERM", p.PID(), timeout)
	}
}

// RunPinned is Run for a node whose config pins the ports of an earlier
// start (prev; zero for a first start, which binds what its config says,
// port 0 in tests). Should another process have taken one of those ports
// since, it starts again on port 0. Either way it pins the ports it got.
func RunPinned(ctx context.Context, bin, dir string, out io.Writer, detach bool, prev node.Addresses, args ...string) (*Process, error) {
	p, err := Run(ctx, bin, dir, out, detach, args...)
	if errors.Is(err, ErrExitedAtStart) && prev.API != "" {
		// Perhaps it could not bind its pinned ports: pick new ones.
		if err := Pin(dir, unpinned(prev)); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "==== pinned ports taken; starting on port 0\n")
		p, err = Run(ctx, bin, dir, out, detach, args...)
	}
	if err != nil {
		return nil, err
	}
	if err := Pin(dir, p.Addrs); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Pin sets the listen addresses in the config of the node in dir to a (port
// 0 everywhere unpins). A restart then binds the same ports: peers, gossip
// included, find the node where it was.
func Pin(dir string, a node.Addresses) error {
	path := filepath.Join(dir, node.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	set := func(section string, v *yaml.Node) error {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != section {
				continue
			}
			m := root.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				if m.Content[j].Value == "listen" {
					m.Content[j+1] = v
					return nil
				}
			}
		}
		return fmt.Errorf("fed: %s: no %s.listen", path, section)
	}
	scalar := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	if err := set("api", scalar(a.API)); err != nil {
		return err
	}
	if len(a.P2P) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, m := range a.P2P {
			seq.Content = append(seq.Content, scalar(strings.TrimSuffix(m, "/p2p/"+a.PeerID)))
		}
		if err := set("p2p", seq); err != nil {
			return err
		}
	}
	if a.Gossip != "" {
		if err := set("gossip", scalar(a.Gossip)); err != nil {
			return err
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

// unpinned is a with every port 0.
func unpinned(a node.Addresses) node.Addresses {
	zero := func(hp string) string { h, _, _ := net.SplitHostPort(hp); return net.JoinHostPort(h, "0") }
	u := node.Addresses{PeerID: a.PeerID, API: zero(a.API)}
	if a.Gossip != "" {
		u.Gossip = zero(a.Gossip)
	}
	for _, m := range a.P2P {
		i := strings.LastIndex(strings.TrimSuffix(m, "/p2p/"+a.PeerID), "/")
		u.P2P = append(u.P2P, m[:i]+"/0")
	}
	return u
}
