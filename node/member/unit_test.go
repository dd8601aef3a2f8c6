package member

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestEncodeMeta(t *testing.T) {
	addr := func(i int) string { return fmt.Sprintf("/ip4/198.51.100.%d/tcp/4001/p2p/12D3KooWExamplePeerID", i) }
	many := func(n int) []string {
		var a []string
		for i := range n {
			a = append(a, addr(i))
		}
		return a
	}
	tests := []struct {
		name        string
		meta        Meta
		wantDropped bool
		wantErr     error
	}{
		{name: "zero", meta: Meta{}},
		{name: "typical", meta: Meta{Role: "seed", PeerID: "12D3KooWExamplePeerID", Addrs: many(3), MetaIndex: 1 << 40, APIAddr: "10.0.0.1:8080"}},
		{name: "too many addrs", meta: Meta{Role: "member", PeerID: "12D3KooWExamplePeerID", Addrs: many(20)}, wantDropped: true},
		{name: "one huge addr", meta: Meta{Addrs: []string{strings.Repeat("a", MaxMetaBytes)}}, wantErr: ErrMetaTooLarge},
		{name: "huge peer id, no addrs", meta: Meta{PeerID: strings.Repeat("p", MaxMetaBytes)}, wantErr: ErrMetaTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, dropped, err := encodeMeta(tt.meta, MaxMetaBytes)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxMetaBytes {
				t.Fatalf("encoded %d bytes, limit %d", len(b), MaxMetaBytes)
			}
			if (dropped > 0) != tt.wantDropped {
				t.Fatalf("dropped %d addrs, want dropping: %v", dropped, tt.wantDropped)
			}
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.meta
			want.Addrs = want.Addrs[:len(want.Addrs)-dropped]
			if len(want.Addrs) == 0 && want.Addrs != nil {
				t.Fatal("dropped every address")
			}
			if got.Role != want.Role || got.PeerID != want.PeerID || got.MetaIndex != want.MetaIndex ||
				got.APIAddr != want.APIAddr || !slices.Equal(got.Addrs, want.Addrs) {
				t.Fatalf("round trip: got %+v, want %+v", got, want)
			}
			if dropped > 0 {
				// As many as fit: one more would not.
				more := tt.meta
				more.Addrs = tt.meta.Addrs[:len(want.Addrs)+1]
				if b2, _, _ := encodeMeta(more, 1<<20); len(b2) <= MaxMetaBytes {
					t.Fatalf("kept %d addrs but %d fit", len(want.Addrs), len(more.Addrs))
				}
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []Meta{{}, {Role: "seed", PeerID: "p", Addrs: []string{"/ip4/1.2.3.4/tcp/1"}, MetaIndex: 9, APIAddr: "x:1"}} {
		b, _, _ := encodeMeta(m, MaxMetaBytes)
		f.Add(b)
	}
	f.Add([]byte(`{"addrs":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes within the limit or is refused, never
		// over it.
		if out, _, err := encodeMeta(m, MaxMetaBytes); err == nil && len(out) > MaxMetaBytes {
			t.Fatalf("re-encoded to %d bytes", len(out))
		}
	})
}

func TestConfigValidate(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 16)
	ok := Config{Name: "n", BindAddr: "127.0.0.1:0", Keys: [][]byte{key}}
	tests := []struct {
		name   string
		modify func(*Config)
		valid  bool
	}{
		{"ok", func(*Config) {}, true},
		{"default config with key", func(c *Config) { *c = DefaultConfig("hn"); c.Keys = [][]byte{key} }, true},
		{"plaintext allowed", func(c *Config) { c.Keys = nil; c.AllowPlaintext = true }, true},
		{"plaintext refused", func(c *Config) { c.Keys = nil }, false},
		{"no name", func(c *Config) { c.Name = " " }, false},
		{"hostname bind", func(c *Config) { c.BindAddr = "localhost:7946" }, false},
		{"no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, false},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "example.org:1" }, false},
		{"ipv6 bind", func(c *Config) { c.BindAddr = "[::1]:7946" }, true},
		{"short key", func(c *Config) { c.Keys = [][]byte{[]byte("0123456789")} }, false},
		{"timeout above interval", func(c *Config) { c.ProbeInterval = 100; c.ProbeTimeout = 200 }, false},
		{"negative", func(c *Config) { c.GossipInterval = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.modify(&c)
			err := c.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid: %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
	// Only a ProbeTimeout above the profile's default interval is caught at
	// Start, once defaults are known.
	c := ok
	c.ProbeTimeout = 10e9
	if _, err := Start(c); !errors.Is(err, ErrConfig) {
		t.Fatalf("Start with ProbeTimeout above the default interval = %v, want ErrConfig", err)
	}
}

func TestMemberlistLogLevels(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	std := newStdLogger(logger)
	std.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:1234")
	std.Printf("[WARN] memberlist: Refuting a suspect message (from: n1)")
	std.Printf("[ERR] memberlist: Failed to receive")
	out := buf.String()
	if strings.Contains(out, "Stream connection") {
		t.Errorf("debug chatter logged at info: %s", out)
	}
	for _, want := range []string{"level=WARN msg=\"Refuting a suspect message (from: n1)\"", "level=ERROR msg=\"Failed to receive\"", "component=memberlist"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
}
