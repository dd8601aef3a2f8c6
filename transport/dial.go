package transport

import (
	"net"

	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// sourceDialer returns the TCP transport's dialer for a host listening on
// listen: a host bound to one IP (not 0.0.0.0 or ::) dials from that IP
// too, on an ephemeral port, so that the other side, and any firewall rule
// written for the node's address, sees the address the node is known by.
// Without it the kernel picks the source: on loopback always 127.0.0.1,
// whatever 127.0.0.N the node listens on. A host listening on an unspecified
// address dials as the kernel chooses.
func sourceDialer(listen []ma.Multiaddr) tcp.DialerForAddr {
	var ips []net.IP
	for _, a := range listen {
		if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
			continue
		}
		ip, err := manet.ToIP(a)
		if err != nil || ip.IsUnspecified() {
			continue
		}
		ips = append(ips, ip)
	}
	return func(raddr ma.Multiaddr) (tcp.ContextDialer, error) {
		d := &net.Dialer{}
		if rip, err := manet.ToIP(raddr); err == nil {
			if src := sourceFor(ips, rip); src != nil {
				d.LocalAddr = &net.TCPAddr{IP: src}
			}
		}
		return d, nil
	}
}

// sourceFor returns the first of ips of the same family and scope
// (loopback or not) as the remote IP, or nil.
func sourceFor(ips []net.IP, remote net.IP) net.IP {
	for _, ip := range ips {
		if (ip.To4() == nil) == (remote.To4() == nil) && ip.IsLoopback() == remote.IsLoopback() {
			return ip
		}
	}
	return nil
}
