package cli_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// nftTable is the one nftables table the partition test owns: a set of
// (source, destination) IPv4 pairs and an output rule that drops every
// packet of a pair in the set. Loopback traffic passes the output hook once,
// so a pair in both orders cuts a link both ways; the set holds 127.0.0.N
// addresses only, so nothing outside the test's nodes is touched.
const nftTable = "lienthong_test"

// nftCuts cuts and heals links between loopback addresses with nft.
type nftCuts struct {
	t *testing.T
}

// newNFTCuts creates the table (replacing a stale one from a crashed run)
// and deletes it when the test ends, failed or not. It fails the test,
// rather than skipping it, when nft is missing or the test is not root: the
// caller asked for the partition test.
func newNFTCuts(t *testing.T) *nftCuts {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("LIENTHONG_PARTITION is set but nft is not installed (apt-get install nftables): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("LIENTHONG_PARTITION is set but the test is not root (uid %d): nft needs CAP_NET_ADMIN", os.Geteuid())
	}
	n := &nftCuts{t: t}
	n.nft("delete table inet "+nftTable, true)
	n.nft(fmt.Sprintf(`table inet %s {
	set cuts { type ipv4_addr . ipv4_addr; }
	chain output {
		type filter hook output priority 0; policy accept;
		ip saddr . ip daddr @cuts drop
	}
}`, nftTable), false)
	t.Cleanup(func() { n.nft("delete table inet "+nftTable, false) })
	return n
}

// nft runs one nft script; a failure fails the test unless quiet.
func (n *nftCuts) nft(script string, quiet bool) {
	n.t.Helper()
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script + "\n")
	if out, err := cmd.CombinedOutput(); err != nil && !quiet {
		n.t.Errorf("nft %q: %v: %s", script, err, out)
	}
}

// cut drops every packet between a and each of others, both ways.
func (n *nftCuts) cut(a string, others ...string) {
	n.t.Helper()
	var elems []string
	for _, b := range others {
		elems = append(elems, a+" . "+b, b+" . "+a)
	}
	n.nft(fmt.Sprintf("add element inet %s cuts { %s }", nftTable, strings.Join(elems, ", ")), false)
}

// heal removes every cut.
func (n *nftCuts) heal() {
	n.t.Helper()
	n.nft(fmt.Sprintf("flush set inet %s cuts", nftTable), false)
}

// reaches reports whether a TCP connection from IP src to addr (host:port)
// opens within timeout: a cut link's SYN is dropped and the dial times out.
func reaches(src, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
