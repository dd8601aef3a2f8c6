package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/dict"
)

// Files of a node directory.
const (
	ConfigFile     = "lienthong.yaml"
	IdentityFile   = "identity.key"
	AdminTokenFile = "admin.token"
	DataDir        = "data"
	// raftDir holds Raft's snapshots (its log is in the store).
	raftDir = "raft"
	// AddressesFile is written by a running node: see Addresses.
	AddressesFile = "addresses.json"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("node: bad configuration")

// Config is a node's configuration, read from lienthong.yaml in its directory.
type Config struct {
	// Name is the node's member name, e.g. "hcm" or "moh".
	Name string `yaml:"name"`
	// Role is "seed" (votes on metadata; the central office) or "member".
	Role string `yaml:"role"`
	API  struct {
		// Listen is the HTTP API's host:port.
		Listen string `yaml:"listen"`
		// MaxBodyBytes caps a request body; larger ones get 413.
		MaxBodyBytes int64 `yaml:"max_body_bytes"`
		// ReadTimeout bounds reading one request, headers and body; a
		// client that sends it slower is disconnected.
		ReadTimeout time.Duration `yaml:"read_timeout"`
		// WriteTimeout bounds each write of an answer: a client that does
		// not read its answer for this long is disconnected. Long answers
		// (exports, changes --follow) last as long as the client reads.
		WriteTimeout time.Duration `yaml:"write_timeout"`
		// IdleTimeout is how long a kept-alive connection may wait for its
		// next request before it is closed.
		IdleTimeout time.Duration `yaml:"idle_timeout"`
		// MaxConnections caps the open API connections; MaxConnectionsPerIP
		// those from one client IP address. A connection over either gets
		// 503 with Retry-After and is closed.
		MaxConnections      int `yaml:"max_connections"`
		MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
		// Tokens are the accepted bearer tokens, by SHA-256.
		Tokens []api.TokenHash `yaml:"tokens"`
		// TLSCertFile and TLSKeyFile, both set, make the API serve HTTPS
		// with this PEM certificate (chain) and key; relative paths are in
		// the node directory. A renewed pair is picked up without restart.
		// Empty: plain HTTP.
		TLSCertFile string `yaml:"tls_cert_file"`
		TLSKeyFile  string `yaml:"tls_key_file"`
	} `yaml:"api"`
	P2P struct {
		// Listen are the libp2p listen multiaddrs.
		Listen []string `yaml:"listen"`
		// Advertise, if set, are the multiaddrs peers are told to reach
		// this node at, instead of every address it listens on (a public
		// or NATed address, or one interface of several). Empty: the
		// listen addresses.
		Advertise []string `yaml:"advertise"`
	} `yaml:"p2p"`
	Gossip struct {
		// Listen is the memberlist host:port (UDP and TCP).
		Listen string `yaml:"listen"`
		// Advertise is the IP:port peers gossip with this node at, when it
		// differs from Listen (NAT, or 0.0.0.0 on a host with several
		// interfaces). Empty: the bound address, or for 0.0.0.0 the first
		// private IP. Its port is ignored when Listen's port is 0.
		Advertise string `yaml:"advertise"`
	} `yaml:"gossip"`
	Storage struct {
		// CacheBytes is Pebble's block cache in bytes.
		CacheBytes int64 `yaml:"cache_bytes"`
	} `yaml:"storage"`
	Clock struct {
		// MaxAheadMillis bounds how far ahead of local time a peer's
		// timestamp may be, in milliseconds.
		MaxAheadMillis int64 `yaml:"max_ahead_millis"`
	} `yaml:"clock"`
	Replication struct {
		// Retention is how long ops are kept after their origin wrote them
		// before they may be truncated (once every reader that pulled
		// within it has them); a reader away longer catches up from a
		// dataset snapshot. Negative keeps every op forever.
		Retention time.Duration `yaml:"retention"`
		// SnapshotChunkBytes is the size of one snapshot chunk's states
		// before compression, in bytes.
		SnapshotChunkBytes int `yaml:"snapshot_chunk_bytes"`
		// Push subscribes to each source's push stream, the lower-latency
		// path, with pull for repair (the default); off: notification and
		// pull only.
		Push bool `yaml:"push"`
	} `yaml:"replication"`

	// Dir is the node directory the config was loaded from.
	Dir string `yaml:"-"`
}

// DefaultConfig returns the configuration of a new node named name.
func DefaultConfig(name string) Config {
	var c Config
	c.Name = name
	c.Role = "member"
	c.API.Listen = "127.0.0.1:7070"
	c.API.MaxBodyBytes = 16 << 20
	c.API.ReadTimeout = 30 * time.Second
	c.API.WriteTimeout = 30 * time.Second
	c.API.IdleTimeout = 2 * time.Minute
	c.API.MaxConnections = 1024
	c.API.MaxConnectionsPerIP = 128
	c.P2P.Listen = []string{"/ip4/0.0.0.0/tcp/7171", "/ip4/0.0.0.0/udp/7171/quic-v1"}
	c.Gossip.Listen = "0.0.0.0:7946"
	c.Storage.CacheBytes = 64 << 20
	c.Clock.MaxAheadMillis = 60_000
	c.Replication.Retention = 7 * 24 * time.Hour
	c.Replication.SnapshotChunkBytes = 4 << 20
	c.Replication.Push = true
	return c
}

// Validate checks c and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if !dict.ValidMemberName(c.Name) {
		errs = append(errs, fmt.Errorf("name %q: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", c.Name))
	}
	if c.Role != "seed" && c.Role != "member" {
		errs = append(errs, fmt.Errorf("role %q: want seed or member", c.Role))
	}
	if _, _, err := net.SplitHostPort(c.Gossip.Listen); err != nil {
		errs = append(errs, fmt.Errorf("gossip.listen %q: want host:port, e.g. 0.0.0.0:7946", c.Gossip.Listen))
	}
	if a := c.Gossip.Advertise; a != "" {
		if h, _, err := net.SplitHostPort(a); err != nil || net.ParseIP(h) == nil {
			errs = append(errs, fmt.Errorf("gossip.advertise %q: want IP:port, e.g. 203.0.113.5:7946", a))
		}
	}
	for _, a := range c.P2P.Advertise {
		if _, err := ma.NewMultiaddr(a); err != nil {
			errs = append(errs, fmt.Errorf("p2p.advertise %q: want a multiaddr, e.g. /ip4/203.0.113.5/tcp/7171 or /dns4/hcm.example.gov.vn/tcp/7171", a))
		}
	}
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		errs = append(errs, fmt.Errorf("api.listen %q: want host:port, e.g. 127.0.0.1:7070", c.API.Listen))
	}
	if c.API.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("api.max_body_bytes %d: must be at least 1024", c.API.MaxBodyBytes))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"read_timeout", c.API.ReadTimeout}, {"write_timeout", c.API.WriteTimeout}, {"idle_timeout", c.API.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("api.%s %v: must be positive, e.g. 30s", d.key, d.v))
		}
	}
	if c.API.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("api.max_connections %d: must be at least 1", c.API.MaxConnections))
	}
	if c.API.MaxConnectionsPerIP < 1 || c.API.MaxConnectionsPerIP > c.API.MaxConnections {
		errs = append(errs, fmt.Errorf("api.max_connections_per_ip %d: want 1 to api.max_connections (%d)", c.API.MaxConnectionsPerIP, c.API.MaxConnections))
	}
	if err := c.validateTLS(); err != nil {
		errs = append(errs, err)
	}
	if len(c.API.Tokens) == 0 {
		errs = append(errs, errors.New("api.tokens: none; re-run lienthong init or add one"))
	}
	for i, t := range c.API.Tokens {
		if err := t.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("api.tokens[%d]: %w", i, err))
		}
	}
	if c.Storage.CacheBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("storage.cache_bytes %d: must be at least 1 MiB", c.Storage.CacheBytes))
	}
	if c.Clock.MaxAheadMillis <= 0 {
		errs = append(errs, fmt.Errorf("clock.max_ahead_millis %d: must be positive", c.Clock.MaxAheadMillis))
	}
	if c.Replication.Retention == 0 {
		errs = append(errs, errors.New("replication.retention 0: give a duration such as 168h, or -1s to keep every op"))
	}
	if c.Replication.SnapshotChunkBytes < 4<<10 || c.Replication.SnapshotChunkBytes > 8<<20 {
		errs = append(errs, fmt.Errorf("replication.snapshot_chunk_bytes %d: want 4096 to 8388608", c.Replication.SnapshotChunkBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w in %s:\n%w", ErrConfig, filepath.Join(c.Dir, ConfigFile), err)
	}
	return nil
}

// LoadConfig reads and validates dir/lienthong.yaml. Missing settings take
// their defaults.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: %s does not exist; create the node with lienthong init --dir %s --name NAME", ErrConfig, path, dir)
	}
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return parseConfig(b, dir)
}

// parseConfig decodes and validates the YAML config of the node in dir.
func parseConfig(b []byte, dir string) (Config, error) {
	c := DefaultConfig("")
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, filepath.Join(dir, ConfigFile), err)
	}
	c.Dir = dir
	return c, c.Validate()
}

var configTemplate = template.Must(template.New("config").Parse(`# lienthong node configuration, written by lienthong init.
# Every setting is shown with its default; edit and restart the node.

# The node's member name in the federation.
name: {{.Name}}
# seed: votes on the federation's metadata (central office); member: follows it.
role: {{.Role}}

api:
  # host:port of the HTTP API. Bind to a private address in production, with
  # TLS (tls_cert_file below).
  listen: {{.API.Listen}}
  # Largest request body accepted, in bytes; larger requests get 413.
  max_body_bytes: {{.API.MaxBodyBytes}}
  # Longest a client may take to send one request (headers and body).
  read_timeout: {{.API.ReadTimeout}}
  # Longest one write of an answer may wait for the client to read; long
  # answers (exports, changes --follow) last as long as the client reads.
  write_timeout: {{.API.WriteTimeout}}
  # How long a kept-alive connection may wait for its next request.
  idle_timeout: {{.API.IdleTimeout}}
  # Open connections allowed in all, and from one client IP address; beyond
  # them a new connection gets 503 with Retry-After and is closed.
  max_connections: {{.API.MaxConnections}}
  max_connections_per_ip: {{.API.MaxConnectionsPerIP}}
  # HTTPS: a PEM certificate (chain) and its key, relative to this directory
  # or absolute; both empty serves plain HTTP. lienthong init --tls writes a
  # self-signed pair (clients: --ca-cert DIR/tls.crt). A renewed pair is
  # picked up without a restart.
  tls_cert_file: "{{.API.TLSCertFile}}"
  tls_key_file: "{{.API.TLSKeyFile}}"
  # Bearer tokens, stored as SHA-256 of the token. Roles: read, write, admin
  # (each includes the ones before it). lienthong init printed the tokens once.
  tokens:
{{- range .API.Tokens}}
    - {role: {{.Role}}, sha256: {{.SHA256}}}
{{- end}}

p2p:
  # libp2p listen addresses (used once the node joins a federation).
  listen:
{{- range .P2P.Listen}}
    - {{.}}
{{- end}}
  # Addresses peers are told to reach this node at, instead of every listen
  # address (a public or NATed address, or one interface of several), e.g.
  # [/dns4/hcm.example.gov.vn/tcp/7171]. Empty: the listen addresses.
  advertise: [{{range $i, $a := .P2P.Advertise}}{{if $i}}, {{end}}{{$a}}{{end}}]

gossip:
  # memberlist host:port (UDP and TCP) for liveness and addresses.
  listen: {{.Gossip.Listen}}
  # IP:port peers gossip with this node at, when it differs from listen (NAT,
  # or 0.0.0.0 on a host with several interfaces). Empty: the bound address.
  advertise: "{{.Gossip.Advertise}}"

storage:
  # Pebble block cache, in bytes.
  cache_bytes: {{.Storage.CacheBytes}}

clock:
  # How far ahead of local time a peer's timestamp may be, in milliseconds;
  # ops from further ahead are refused until the clocks agree.
  max_ahead_millis: {{.Clock.MaxAheadMillis}}

replication:
  # How long ops are kept after their origin wrote them, as a duration (e.g.
  # 168h); then they are dropped once every reader that pulled from this node
  # within that time has them. A reader away for longer catches up from a
  # snapshot of the dataset sent by its owner. A negative value keeps every op.
  retention: {{.Replication.Retention}}
  # Size of one dataset snapshot chunk before compression, in bytes.
  snapshot_chunk_bytes: {{.Replication.SnapshotChunkBytes}}
  # Push: subscribe to each source's stream of new ops as they become
  # durable (lower lag; anti-entropy pulls still repair). false: readers
  # are notified and pull.
  push: {{.Replication.Push}}
`))

// writeConfig writes c to dir/lienthong.yaml with comments.
func writeConfig(dir string, c Config) error {
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, c); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ConfigFile), buf.Bytes(), 0o600)
}
