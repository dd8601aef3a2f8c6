package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/meta"
)

// servedNode is a single node serving its API on a loopback port.
type servedNode struct {
	*Node
	addr   string // API host:port
	tokens *InitResult
}

// serveNode starts a single node with its config changed by set and serves
// its API until the test ends.
func serveNode(t *testing.T, set func(*Config)) *servedNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mps")
	cfg := DefaultConfig("mps")
	cfg.API.Listen = "127.0.0.1:0"
	set(&cfg)
	res, err := Init(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = LoadConfig(dir); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ListenAPI(cfg)
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.Close()
	})
	return &servedNode{Node: n, addr: l.Addr().String(), tokens: res}
}

// dialFrom opens a connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends GET /healthz on c, kept alive, and returns the answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: lienthong\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

// TestConnectionCaps: connections over the total or per-IP cap get 503 with
// Retry-After from the listener; others are served; a closed connection
// frees its place.
func TestConnectionCaps(t *testing.T) {
	for _, tc := range []struct {
		name         string
		total, perIP int
		key          string
	}{
		{"per_ip", 8, 2, "api.max_connections_per_ip"},
		{"total", 2, 2, "api.max_connections)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := serveNode(t, func(c *Config) { c.API.MaxConnections, c.API.MaxConnectionsPerIP = tc.total, tc.perIP })
			var held []net.Conn
			for range 2 {
				c := dialFrom(t, "127.0.0.1", n.addr)
				if resp := get(t, c, bufio.NewReader(c)); resp.StatusCode != http.StatusOK {
					t.Fatalf("connection within the cap: %d", resp.StatusCode)
				}
				held = append(held, c)
			}
			c := dialFrom(t, "127.0.0.1", n.addr)
			resp := get(t, c, bufio.NewReader(c))
			var body api.ErrorBody
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
				body.Error.Code != "too_many_connections" || !strings.Contains(body.Error.Message, tc.key) {
				t.Fatalf("connection over the cap: %d Retry-After %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if tc.name == "per_ip" {
				// Another client address is not held back by this one's.
				o := dialFrom(t, "127.0.0.2", n.addr)
				if resp := get(t, o, bufio.NewReader(o)); resp.StatusCode != http.StatusOK {
					t.Fatalf("connection from another address: %d", resp.StatusCode)
				}
			}
			held[0].Close()
			deadline := time.Now().Add(20 * time.Second)
			for {
				c := dialFrom(t, "127.0.0.1", n.addr)
				if get(t, c, bufio.NewReader(c)).StatusCode == http.StatusOK {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("a closed connection did not free its place")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestConnectionTimeouts: a kept-alive connection that stays idle past
// api.idle_timeout, and one whose request takes longer than
// api.read_timeout, are closed by the node.
func TestConnectionTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		use  func(t *testing.T, c net.Conn, br *bufio.Reader)
	}{
		{"idle", func(c *Config) { c.API.IdleTimeout = 100 * time.Millisecond }, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			if resp := get(t, c, br); resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %d", resp.StatusCode)
			}
		}},
		{"slow request", func(c *Config) { c.API.ReadTimeout = 100 * time.Millisecond }, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: lien") // and nothing more
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := serveNode(t, tc.set)
			c := dialFrom(t, "127.0.0.1", n.addr)
			br := bufio.NewReader(c)
			tc.use(t, c, br)
			c.SetDeadline(time.Now().Add(20 * time.Second)) // only against a hang
			b, err := io.ReadAll(br)                        // nil at EOF: the node closed it
			if err != nil || len(b) > 0 {
				t.Fatalf("connection: read %q, %v; want it closed by the node", b, err)
			}
		})
	}
}

// TestStreamOutlivesTimeouts: changes --follow (server-sent events) keeps
// streaming long after the read and write timeouts, and delivers a change
// written then.
func TestStreamOutlivesTimeouts(t *testing.T) {
	n := serveNode(t, func(c *Config) { c.API.ReadTimeout, c.API.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond })
	ctx := context.Background()
	types, _ := examples.EntityTypes()
	for _, ty := range types {
		if ty.Name == "citizen" {
			propose(t, n.Node, meta.Command{Op: meta.OpPutType, Type: ty})
		}
	}
	propose(t, n.Node, meta.Command{Op: meta.OpPutDataset, Dataset: mustDataset(t,
		`{"name":"population.identity","entity_type":"citizen","fields":["full_name","birth_date","sex","birth_province"],"owner":"mps"}`)})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.addr+"/v1/changes", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+n.tokens.ReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	time.Sleep(time.Second) // ten times both timeouts
	put, _ := http.NewRequest("PUT", "http://"+n.addr+"/v1/datasets/population.identity/entities/079090000001",
		strings.NewReader(`{"full_name":"Trần Thị Bình","birth_date":"1990-02-03","sex":"female","birth_province":"79"}`))
	put.Header.Set("Authorization", "Bearer "+n.tokens.WriteToken)
	if r, err := http.DefaultClient.Do(put); err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("put: %v %v", r, err)
	}
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				got <- sc.Text()
				return
			}
		}
		got <- fmt.Sprintf("stream ended: %v", sc.Err())
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, "079090000001") {
			t.Fatalf("stream after the timeouts: %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no change on the stream")
	}
}

// TestConfigAPILimits: the limits survive the commented config file and
// bad ones are refused naming their key.
func TestConfigAPILimits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	if _, err := Init(dir, DefaultConfig("n")); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig("n").API
	if a := cfg.API; a.ReadTimeout != d.ReadTimeout || a.WriteTimeout != d.WriteTimeout || a.IdleTimeout != d.IdleTimeout ||
		a.MaxConnections != 1024 || a.MaxConnectionsPerIP != 128 {
		t.Fatalf("limits read back: %+v", a)
	}
	for _, tc := range []struct {
		key string
		set func(*Config)
	}{
		{"api.read_timeout", func(c *Config) { c.API.ReadTimeout = 0 }},
		{"api.write_timeout", func(c *Config) { c.API.WriteTimeout = -time.Second }},
		{"api.idle_timeout", func(c *Config) { c.API.IdleTimeout = 0 }},
		{"api.max_connections", func(c *Config) { c.API.MaxConnections = 0 }},
		{"api.max_connections_per_ip", func(c *Config) { c.API.MaxConnectionsPerIP = 2000 }},
	} {
		c := cfg
		tc.set(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
}
