package member

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSocketBoundBeforeStart binds port 0 ahead of Start, as a node does at
// start: the List gossips on the bound port, advertises it, and a peer
// joins through it.
func TestSocketBoundBeforeStart(t *testing.T) {
	s, err := Listen("127.0.0.1:0", testLogger("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, port, _ := net.SplitHostPort(s.Addr()); port == "0" {
		t.Fatalf("Socket.Addr %s: want the bound port", s.Addr())
	}
	// Something that arrives before gossip starts waits for it.
	c, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("early"))
	c.Close()
	cfg := newTestConfig("a")
	cfg.BindAddr, cfg.Socket = "", s
	a := startNode(t, cfg)
	if a.Addr() != s.Addr() {
		t.Fatalf("List.Addr %s, Socket.Addr %s", a.Addr(), s.Addr())
	}
	b := startNode(t, newTestConfig("b"))
	if _, err := b.Join([]string{s.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to see a alive at the socket's address", func() (bool, string) {
		p, ok := b.Peer("a")
		return ok && p.State == StateAlive && p.Addr == s.Addr(), p.Addr
	})
}

// TestSocketInUse: a taken port fails at once with ErrAddrInUse, naming it.
func TestSocketInUse(t *testing.T) {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(l.Addr().String(), nil)
	if !errors.Is(err, ErrAddrInUse) || !strings.Contains(fmt.Sprint(err), l.Addr().String()) {
		t.Fatalf("Listen on a taken port: %v; want ErrAddrInUse naming %s", err, l.Addr())
	}
	if _, err := Listen("localhost:1", nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("Listen on a host name: %v; want ErrConfig", err)
	}
}

// TestSocketCloseUnused: closing a socket that gossip never took returns,
// even with a connection and a packet queued, and frees the port.
func TestSocketCloseUnused(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("queued"))
	u.Close()
	time.Sleep(10 * time.Millisecond) // let the transport accept them
	done := make(chan struct{})
	go func() { s.Close(); s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Close of an unused socket hangs")
	}
	again, err := Listen(s.Addr(), nil)
	if err != nil {
		t.Fatalf("rebind after Close: %v", err)
	}
	again.Close()
}

// Gossip bound to one IP dials its TCP streams from that IP.
func TestSocketDialsFromBoundIP(t *testing.T) {
	s, err := Listen("127.0.0.2:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	peer, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := s.tr.DialTimeout(peer.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := peer.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if got := in.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.2" {
		t.Errorf("the peer sees a connection from %s, want 127.0.0.2", got)
	}
}
