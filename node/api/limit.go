package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnLimiter caps the API's open connections, in total and per client IP
// address. A connection over a cap is answered 503 with Retry-After by the
// listener itself, then closed: it never reaches the HTTP server, so a flood
// of connections cannot use up the node's file descriptors or goroutines.
// Safe for concurrent use.
type ConnLimiter struct {
	total, perIP int
	rejected     *prometheus.CounterVec

	// answering bounds the rejected connections being answered at once;
	// beyond it they are closed without an answer.
	answering chan struct{}

	mu struct {
		sync.Mutex
		open int
		byIP map[netip.Addr]int
	}
}

// ConnRetryAfter is the Retry-After of a connection refused over a cap.
const ConnRetryAfter = time.Second

// NewConnLimiter returns a limiter of total open connections, perIP of them
// from one address (both at least 1), whose metrics go to reg (nil: none).
func NewConnLimiter(total, perIP int, reg prometheus.Registerer) *ConnLimiter {
	l := &ConnLimiter{total: total, perIP: perIP, answering: make(chan struct{}, 64),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_api_connections_rejected_total",
			Help: "API connections refused with 503 over a cap, by cap (total or per_ip).",
		}, []string{"cap"})}
	l.mu.byIP = map[netip.Addr]int{}
	if reg != nil {
		reg.MustRegister(l.rejected, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lienthong_api_connections", Help: "Open API connections.",
		}, func() float64 { l.mu.Lock(); defer l.mu.Unlock(); return float64(l.mu.open) }))
	}
	return l
}

// Listener returns ln with the limiter's caps applied to what it accepts.
func (l *ConnLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, lim: l}
}

type limitedListener struct {
	net.Listener
	lim *ConnLimiter
}

// Accept returns the next connection within the caps, answering the others.
func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if limit, open := ll.lim.acquire(ip); limit != "" {
			ll.lim.refuse(c, limit, ip, open)
			continue
		}
		return &limitedConn{Conn: c, release: func() { ll.lim.release(ip) }}, nil
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// acquire counts a connection from ip, or names the cap it would exceed
// and how many are open under that cap.
func (l *ConnLimiter) acquire(ip netip.Addr) (limit string, open int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.mu.open >= l.total:
		return "total", l.mu.open
	case l.mu.byIP[ip] >= l.perIP:
		return "per_ip", l.mu.byIP[ip]
	}
	l.mu.open++
	l.mu.byIP[ip]++
	return "", 0
}

func (l *ConnLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.open--
	if l.mu.byIP[ip]--; l.mu.byIP[ip] <= 0 {
		delete(l.mu.byIP, ip)
	}
}

// refuse answers c 503 and closes it, in the background: it shuts its side
// first and reads what the client sent until it closes too (at most a
// second), so the client reads the answer instead of a reset.
func (l *ConnLimiter) refuse(c net.Conn, limit string, ip netip.Addr, open int) {
	l.rejected.WithLabelValues(limit).Inc()
	select {
	case l.answering <- struct{}{}:
	default:
		c.Close()
		return
	}
	msg := fmt.Sprintf("too many API connections (%d open, the limit of api.max_connections); retry later", open)
	if limit == "per_ip" {
		msg = fmt.Sprintf("too many API connections from %s (%d open, the limit of api.max_connections_per_ip); reuse or close yours, or retry later", ip, open)
	}
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: "too_many_connections", Message: msg}})
	resp := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: " +
		strconv.Itoa(int(ConnRetryAfter/time.Second)) + "\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)+1) + "\r\n\r\n" + string(body) + "\n"
	go func() {
		defer func() { <-l.answering }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// limitedConn releases its place under the caps when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
