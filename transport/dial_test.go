package transport

import (
	"net"
	"testing"
	"time"

	manet "github.com/multiformats/go-multiaddr/net"
)

// A host bound to one loopback IP dials from that IP: the other side sees
// it as 127.0.0.N, not as the kernel's default 127.0.0.1.
func TestDialFromListenIP(t *testing.T) {
	a := newTestNodeOn(t, "/ip4/127.0.0.2/tcp/0")
	b := newTestNodeOn(t, "/ip4/127.0.0.3/tcp/0")
	admitEachOther(a, b)
	if err := connectVia(ctxTimeout(t, 5*time.Second), t, a.Host, b.Host, "tcp"); err != nil {
		t.Fatal(err)
	}
	conns := b.Network().ConnsToPeer(a.ID())
	if len(conns) == 0 {
		t.Fatal("b has no connection from a")
	}
	for _, c := range conns {
		ip, err := manet.ToIP(c.RemoteMultiaddr())
		if err != nil {
			t.Fatal(err)
		}
		if got := ip.String(); got != "127.0.0.2" {
			t.Errorf("b sees a connection from %s (%s), want 127.0.0.2", got, c.RemoteMultiaddr())
		}
	}
}

// A host on an unspecified address leaves the source to the kernel; one on
// a specific IP uses it only for a remote of its family and scope.
func TestSourceFor(t *testing.T) {
	ips := []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("127.0.0.7")}
	for _, tc := range []struct{ remote, want string }{
		{"10.0.0.9", "10.0.0.5"},
		{"127.0.0.1", "127.0.0.7"},
		{"::1", "<nil>"},
	} {
		if got := sourceFor(ips, net.ParseIP(tc.remote)).String(); got != tc.want {
			t.Errorf("sourceFor(%v, %s) = %s, want %s", ips, tc.remote, got, tc.want)
		}
	}
}
