// Package hello is the protocol by which a node learns, from a peer it is
// connected to, how to reach the peer's other services: its member name,
// its gossip address and its API address.
package hello

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lienthong/lienthong/transport"
)

// ID is the protocol ID.
const ID = "/lienthong/hello/1.0.0"

const maxBytes = 4 << 10

// Info is what a node tells about itself.
type Info struct {
	Name   string `json:"name"`
	Gossip string `json:"gossip,omitempty"` // host:port of memberlist, empty until gossip runs
	API    string `json:"api,omitempty"`
}

// Serve answers hello requests on h with info(), called per request.
func Serve(h host.Host, info func() Info) {
	transport.Handle(h, ID, 16, 5*time.Second, func(context.Context, peer.ID, []byte) ([]byte, error) {
		return json.Marshal(info())
	})
}

// Ask asks peer p about itself.
func Ask(ctx context.Context, h host.Host, p peer.ID) (Info, error) {
	b, err := transport.Request(ctx, h, p, ID, []byte("?"), maxBytes)
	if err != nil {
		return Info{}, err
	}
	in, err := Decode(b)
	if err != nil {
		return Info{}, fmt.Errorf("hello from %s: %w", p, err)
	}
	return in, nil
}

// Decode parses a hello response: a name, and addresses that are empty or
// host:port. Nothing a peer sends makes it panic.
func Decode(b []byte) (Info, error) {
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return Info{}, fmt.Errorf("malformed response: %w", err)
	}
	if in.Name == "" {
		return Info{}, errors.New("malformed response: no name")
	}
	for what, addr := range map[string]string{"gossip": in.Gossip, "api": in.API} {
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return Info{}, fmt.Errorf("malformed response: %s address %q is not host:port", what, addr)
		}
	}
	return in, nil
}
