package cli

import (
	"strings"
	"testing"

	"github.com/lienthong/lienthong/node"
)

// TestGossipBeside: without --gossip, a node's gossip address follows its
// first TCP libp2p address (port + 100), so nodes initialised on one host
// with their own --listen ports do not all take 0.0.0.0:7946.
func TestGossipBeside(t *testing.T) {
	for _, tc := range []struct {
		listen []string
		want   string
	}{
		{[]string{"/ip4/0.0.0.0/tcp/7171"}, "0.0.0.0:7271"},
		{[]string{"/ip4/127.0.0.1/tcp/7272", "/ip4/127.0.0.1/udp/7272/quic-v1"}, "127.0.0.1:7372"},
		{[]string{"/ip4/127.0.0.1/udp/7272/quic-v1", "/ip4/127.0.0.2/tcp/7000"}, "127.0.0.2:7100"},
		{[]string{"/ip6/::1/tcp/7373"}, "[::1]:7473"},
		{[]string{"/ip4/127.0.0.1/tcp/0"}, "127.0.0.1:0"},
		{[]string{"/ip4/127.0.0.1/tcp/65500"}, ""}, // no room: the default stays
		{[]string{"/ip4/127.0.0.1/udp/7272/quic-v1"}, ""},
		{[]string{"not a multiaddr"}, ""},
	} {
		if got := gossipBeside(tc.listen); got != tc.want {
			t.Errorf("gossipBeside(%v) = %q, want %q", tc.listen, got, tc.want)
		}
	}
	seen := map[string]string{}
	for _, name := range []string{"s1", "s2", "s3"} {
		dir := t.TempDir() + "/" + name
		port := map[string]string{"s1": "7171", "s2": "7172", "s3": "7173"}[name]
		if _, err := initNode(dir, name, "127.0.0.1:0", "/ip4/127.0.0.1/tcp/"+port, "", "seed", false); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		g := cfg.Gossip.Listen
		if other, dup := seen[g]; dup {
			t.Fatalf("%s and %s both gossip on %s", other, name, g)
		}
		seen[g] = name
	}
}

// TestInitListenAPI: init's listen address is --listen-api; the old --api
// still works, with a warning, since a client's --api is a URL.
func TestInitListenAPI(t *testing.T) {
	for _, tc := range []struct{ flag, warn string }{{"--listen-api", ""}, {"--api", "--api is deprecated"}} {
		dir := t.TempDir() + "/n"
		code, _, stderr := runImportCLI(t, nil, "init", "--dir", dir, "--name", "n1", tc.flag, "127.0.0.2:0")
		if code != ExitOK || (tc.warn == "") != (stderr == "") || !strings.Contains(stderr, tc.warn) {
			t.Fatalf("init %s: exit %d, stderr %q", tc.flag, code, stderr)
		}
		cfg, err := node.LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.API.Listen != "127.0.0.2:0" {
			t.Errorf("init %s 127.0.0.2:0: api.listen %q", tc.flag, cfg.API.Listen)
		}
	}
}
