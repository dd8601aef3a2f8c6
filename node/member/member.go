package member

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the gossip port used by DefaultConfig, for both UDP and TCP
// (memberlist's usual 7946). Firewalls between sites must allow both.
const DefaultPort = 7946

// Errors returned by this package. Check them with errors.Is.
var (
	// ErrConfig wraps every Config validation failure.
	ErrConfig = errors.New("member: invalid config")
	// ErrShutdown is returned by calls on a List after Shutdown.
	ErrShutdown = errors.New("member: list is shut down")
	// ErrJoin is returned by Join when none of the given addresses answered.
	ErrJoin = errors.New("member: join failed: no address answered (check each is a running node's gossip host:port, that TCP and UDP are open to it, and that both sides share a gossip key)")
	// ErrMetaTooLarge is returned when the local Meta cannot be encoded in
	// MaxMetaBytes even with a single address.
	ErrMetaTooLarge = errors.New("member: meta too large")
	// ErrNoEncryption is returned by SetKeys on a List started without keys.
	ErrNoEncryption = errors.New("member: gossip encryption is off; restart with Config.Keys to enable it")
)

// State is a node's liveness as seen by the local node.
type State string

// Node states. A node is suspect when a probe failed and the cluster is
// waiting for it to refute; dead when nobody heard it refute in time; left
// when it announced its departure with Leave.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect"
	StateDead    State = "dead"
	StateLeft    State = "left"
)

// Peer is one node as the local node sees it, itself included.
type Peer struct {
	Name  string    // member name, unique in the federation
	Addr  string    // gossip host:port it advertises
	State State     // liveness
	Meta  Meta      // its last gossiped summary; zero if it sent none or an undecodable one
	Since time.Time // when the local node saw State begin
}

func (p Peer) clone() Peer {
	p.Meta = p.Meta.clone()
	return p
}

// Config configures a List. The zero value of every timing field means
// memberlist's default for the chosen profile (LAN or WAN).
type Config struct {
	// Name is this node's member name, unique in the federation and stable
	// across restarts (a restarted node reclaims its entry by name).
	Name string
	// BindAddr is the IP:port to listen on for gossip, UDP and TCP alike,
	// e.g. "0.0.0.0:7946". Port 0 picks a free port (see List.Addr).
	// Ignored when Socket is set.
	BindAddr string
	// Socket, if not nil, is an address already bound by Listen: gossip runs
	// on it instead of binding BindAddr. Start owns it from then on, also
	// when Start fails.
	Socket *Socket
	// AdvertiseAddr is the IP:port other nodes should use to reach this one,
	// when it differs from BindAddr (NAT, or BindAddr 0.0.0.0 on a host with
	// several interfaces). Empty: memberlist picks the bound address, or the
	// first private IP when bound to 0.0.0.0 (and fails on a host with only
	// public IPs: set it explicitly there). Its port is ignored when
	// BindAddr's port is 0.
	AdvertiseAddr string
	// Keys are the AES gossip keys (16, 24 or 32 bytes); Keys[0] encrypts,
	// all of them decrypt. Empty means no encryption, which Validate refuses
	// unless AllowPlaintext is set. Start copies them.
	Keys [][]byte
	// AllowPlaintext permits running without Keys. Only for tests and lab
	// setups: plaintext gossip lets anyone on the path read every node's
	// addresses and inject fake members.
	AllowPlaintext bool
	// Meta returns the local node's summary. It is called by Start and by
	// UpdateMeta only (never from inside memberlist), must be fast and may
	// be nil (zero Meta).
	Meta func() Meta
	// WAN selects memberlist.DefaultWANConfig timings (probe every 5 s,
	// 3 s probe timeout, suspicion multiplier 6, gossip every 500 ms);
	// false selects DefaultLANConfig (1 s, 500 ms, 4, 200 ms). Federation
	// nodes talk across provinces, so DefaultConfig sets it.
	WAN bool
	// ProbeInterval is the time between failure probes; zero = profile default.
	ProbeInterval time.Duration
	// ProbeTimeout is how long to wait for a probe's ack before trying
	// indirect probes; it must be below ProbeInterval. Zero = profile default.
	ProbeTimeout time.Duration
	// GossipInterval is the time between gossip rounds; zero = profile default.
	GossipInterval time.Duration
	// SuspicionMult scales how long a suspect node has to refute before it
	// is declared dead (SuspicionMult * log10(N) * ProbeInterval, shortened
	// as other nodes confirm). Zero = profile default.
	SuspicionMult int
	// PushPullInterval is the time between full state exchanges with a
	// random peer (scaled up by memberlist in large clusters). It repairs
	// whatever gossip missed, e.g. a node that joined after a broadcast had
	// died out. Zero = profile default (30 s LAN, 60 s WAN).
	PushPullInterval time.Duration
	// Logger receives this package's and memberlist's logs; nil discards.
	Logger *slog.Logger
	// OnChange, if set, is called with a copy of a peer (self included)
	// whenever its state, address or meta changes. Calls come one at a time,
	// in order, from a single goroutine of the List; a slow OnChange delays
	// later notifications and the refresh of Peers, but never gossip.
	OnChange func(Peer)
}

// DefaultConfig returns a configuration for a federation node named name:
// WAN timings, listening on every interface on DefaultPort. Keys, Meta and
// Logger must still be set.
func DefaultConfig(name string) Config {
	return Config{
		Name:     name,
		BindAddr: net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultPort)),
		WAN:      true,
	}
}

// Validate reports the first problem with c, wrapped in ErrConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if strings.TrimSpace(c.Name) == "" {
		return bad("Name is empty; set it to the member name")
	}
	if _, err := parseHostPort(c.BindAddr); err != nil && c.Socket == nil {
		return bad("BindAddr %q: %v; use IP:port such as 0.0.0.0:7946", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if _, err := parseHostPort(c.AdvertiseAddr); err != nil {
			return bad("AdvertiseAddr %q: %v; use IP:port", c.AdvertiseAddr, err)
		}
	}
	if len(c.Keys) == 0 && !c.AllowPlaintext {
		return bad("no gossip Keys; set the federation's gossip key (AllowPlaintext is for tests only)")
	}
	for i, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return bad("Keys[%d]: %v", i, err)
		}
	}
	if c.ProbeInterval < 0 || c.ProbeTimeout < 0 || c.GossipInterval < 0 || c.SuspicionMult < 0 || c.PushPullInterval < 0 {
		return bad("negative timing")
	}
	if c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		return bad("ProbeTimeout %v must be below ProbeInterval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	return nil
}

// parseHostPort parses an IP:port with a port in 0..65535.
func parseHostPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ap, nil
}

// List is this node's membership: a running memberlist plus a table of every
// node it has ever seen, dead and left ones included. All methods are safe
// for concurrent use.
type List struct {
	cfg        Config // INVARIANT: validated, Keys copied; never modified after Start
	log        *slog.Logger
	ml         *memberlist.Memberlist
	mlConf     *memberlist.Config  // owned by memberlist after Create; read-only here
	keyring    *memberlist.Keyring // nil when running in plaintext
	view       *stateView          // nil when memberlist's layout is not the expected one
	refreshDur time.Duration       // period of the refresh loop
	updateWait time.Duration       // how long UpdateMeta waits for its broadcast

	meta   atomic.Pointer[[]byte] // encoded local meta served to memberlist
	metaMu sync.Mutex             // serialises UpdateMeta
	keysMu sync.Mutex             // serialises SetKeys

	kick     chan struct{} // cap 1: ask the refresh loop to run now
	stop     chan struct{} // closed by Shutdown
	done     chan struct{} // closed when the refresh loop exits
	shutdown atomic.Bool

	lifeMu sync.Mutex // serialises Leave and Shutdown (memberlist panics on Leave after Shutdown)

	mu struct {
		sync.Mutex
		peers   map[string]*entry
		pending []observation // from the event delegate; used only when view is nil
	}
}

// entry is one row of the peer table. raw is the meta as received, to skip
// decoding when it did not change.
type entry struct {
	peer Peer
	raw  []byte
}

// Start validates cfg, starts gossip on cfg.Socket or cfg.BindAddr and
// returns the running List. The node is alone until Join; others may also
// join through it.
func Start(cfg Config) (l *List, err error) {
	if cfg.Socket != nil {
		defer func() {
			if err != nil {
				cfg.Socket.Close()
			}
		}()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(cfg.Keys))
	for i, k := range cfg.Keys {
		keys[i] = bytes.Clone(k)
	}
	cfg.Keys = keys
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l = &List{
		cfg:  cfg,
		log:  logger,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.mu.peers = make(map[string]*entry)

	mc, err := l.memberlistConfig()
	if err != nil {
		return nil, err
	}
	l.mlConf = mc
	l.refreshDur = min(max(mc.ProbeInterval/2, 10*time.Millisecond), time.Second)
	l.updateWait = max(10*mc.GossipInterval, time.Second)
	if err := l.loadMeta(); err != nil {
		return nil, err
	}

	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("member: start gossip on %s: %w (is the port free and the address local?)", l.Addr(), err)
	}
	l.ml = ml
	if l.view, err = newStateView(ml); err != nil {
		l.log.Warn("memberlist internals not readable; suspect and left states will not be reported", "err", err)
	}
	l.refresh()
	go l.loop()
	l.log.Info("gossip started", "member", cfg.Name, "addr", l.Addr(), "wan", cfg.WAN, "encrypted", l.keyring != nil)
	return l, nil
}

// memberlistConfig translates l.cfg into a memberlist configuration.
func (l *List) memberlistConfig() (*memberlist.Config, error) {
	c := l.cfg
	var mc *memberlist.Config
	if c.WAN {
		mc = memberlist.DefaultWANConfig()
	} else {
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = c.Name
	if c.Socket != nil {
		// memberlist learns the bound port from its own transport only.
		mc.Transport = c.Socket.tr
		mc.BindAddr, mc.BindPort = c.Socket.ip, c.Socket.port
	} else {
		bind, _ := parseHostPort(c.BindAddr) // validated
		mc.BindAddr, mc.BindPort = bind.Addr().String(), int(bind.Port())
	}
	mc.AdvertisePort = mc.BindPort
	if c.AdvertiseAddr != "" {
		adv, _ := parseHostPort(c.AdvertiseAddr)
		mc.AdvertiseAddr = adv.Addr().String()
		if adv.Port() != 0 {
			mc.AdvertisePort = int(adv.Port())
		}
	}
	if c.ProbeInterval > 0 {
		mc.ProbeInterval = c.ProbeInterval
	}
	if c.ProbeTimeout > 0 {
		mc.ProbeTimeout = c.ProbeTimeout
	}
	if c.GossipInterval > 0 {
		mc.GossipInterval = c.GossipInterval
	}
	if c.SuspicionMult > 0 {
		mc.SuspicionMult = c.SuspicionMult
	}
	if c.PushPullInterval > 0 {
		mc.PushPullInterval = c.PushPullInterval
	}
	if mc.ProbeTimeout >= mc.ProbeInterval {
		return nil, fmt.Errorf("%w: ProbeTimeout %v must be below ProbeInterval %v", ErrConfig, mc.ProbeTimeout, mc.ProbeInterval)
	}
	if len(c.Keys) > 0 {
		kr, err := memberlist.NewKeyring(c.Keys, c.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("%w: Keys: %v", ErrConfig, err)
		}
		l.keyring = kr
		mc.Keyring = kr
	}
	mc.Logger = newStdLogger(l.log)
	mc.Delegate = (*delegate)(l)
	mc.Events = (*events)(l)
	return mc, nil
}

// loadMeta calls cfg.Meta and stores its encoding for memberlist. On error the
// previous encoding stays in use.
func (l *List) loadMeta() error {
	var m Meta
	if l.cfg.Meta != nil {
		m = l.cfg.Meta()
	}
	b, dropped, err := encodeMeta(m, MaxMetaBytes)
	if err != nil {
		return err
	}
	if dropped > 0 {
		l.log.Warn("meta too large for gossip; dropped trailing addresses",
			"dropped", dropped, "kept", len(m.Addrs)-dropped, "limit_bytes", MaxMetaBytes)
	}
	l.meta.Store(&b)
	return nil
}

// Addr returns the host:port gossip is bound to, with the port memberlist
// picked when BindAddr's port was 0. For a wildcard BindAddr (0.0.0.0) the
// address other nodes use is the local node's Peer.Addr.
func (l *List) Addr() string {
	return net.JoinHostPort(l.mlConf.BindAddr, strconv.Itoa(l.mlConf.BindPort))
}

// Join contacts each gossip host:port in addrs (any existing members) and
// merges state with it. It returns how many answered. The error, wrapping
// ErrJoin and naming each failed address, is non-nil only when none
// answered; partial failures are logged as warnings. Join blocks for up to
// the TCP timeout (10 s LAN, 30 s WAN) per unreachable address.
func (l *List) Join(addrs []string) (int, error) {
	if l.shutdown.Load() {
		return 0, ErrShutdown
	}
	if len(addrs) == 0 {
		return 0, fmt.Errorf("%w: no addresses given", ErrJoin)
	}
	total := 0
	var errs []error
	for _, a := range addrs {
		n, err := l.ml.Join([]string{a})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", a, flatten(err)))
			continue
		}
		total += n
	}
	l.kickRefresh()
	if total == 0 {
		return 0, fmt.Errorf("%w: %w", ErrJoin, errors.Join(errs...))
	}
	if len(errs) > 0 {
		l.log.Warn("some join addresses failed", "joined", total, "err", errors.Join(errs...))
	}
	return total, nil
}

// flatten turns memberlist's multi-line multierror into one line.
func flatten(err error) string {
	if me, ok := err.(interface{ WrappedErrors() []error }); ok {
		var parts []string
		for _, e := range me.WrappedErrors() {
			parts = append(parts, e.Error())
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// Peers returns every node the local node knows of, itself included, sorted
// by name, with dead and left nodes kept (memberlist forgets them after its
// GossipToTheDeadTime; this table does not). The view is at most one refresh
// period old (ProbeInterval/2, at most 1 s). The caller owns the result.
func (l *List) Peers() []Peer {
	l.mu.Lock()
	out := make([]Peer, 0, len(l.mu.peers))
	for _, e := range l.mu.peers {
		out = append(out, e.peer.clone())
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Peer returns the named node, as Peers would.
func (l *List) Peer(name string) (Peer, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.mu.peers[name]
	if !ok {
		return Peer{}, false
	}
	return e.peer.clone(), true
}

// UpdateMeta calls Config.Meta again and gossips the result, e.g. after the
// node applied a new metadata index or its libp2p addresses changed. It
// blocks until the update has been handed to gossip (about ten gossip
// intervals at most; after that it keeps spreading in the background).
// It fails, keeping the previous meta, only if the new one cannot be encoded.
func (l *List) UpdateMeta() error {
	if l.shutdown.Load() {
		return ErrShutdown
	}
	l.metaMu.Lock()
	defer l.metaMu.Unlock()
	if err := l.loadMeta(); err != nil {
		return err
	}
	if err := l.ml.UpdateNode(l.updateWait); err != nil {
		// The new meta is in place locally and spreads with later gossip
		// and push/pull; only the wait timed out.
		l.log.Debug("meta update still spreading", "err", err)
	}
	l.kickRefresh()
	return nil
}

// SetKeys installs every key in keys, makes keys[0] the one used to encrypt
// and removes installed keys that are not listed. Every listed key decrypts.
//
// Rotating the federation key without losing gossip between nodes that have
// and have not been updated yet takes three rounds, each finished on every
// node before the next starts:
//
//  1. SetKeys([old, new]) everywhere: new is known, old still encrypts.
//  2. SetKeys([new, old]) everywhere: new encrypts, old still decrypts
//     stragglers.
//  3. SetKeys([new]) everywhere: old is gone.
//
// Skipping round 1 works only if every node switches within a probe timeout
// of the others; otherwise nodes that switched cannot be read by nodes that
// did not, and get marked suspect or dead until they catch up.
//
// SetKeys fails with ErrNoEncryption on a List started without Keys.
func (l *List) SetKeys(keys [][]byte) error {
	if l.keyring == nil {
		return ErrNoEncryption
	}
	if len(keys) == 0 {
		return fmt.Errorf("member: set keys: no keys given; encryption cannot be turned off at run time")
	}
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("member: set keys: keys[%d]: %w", i, err)
		}
	}
	l.keysMu.Lock()
	defer l.keysMu.Unlock()
	for _, k := range keys {
		if err := l.keyring.AddKey(bytes.Clone(k)); err != nil {
			return fmt.Errorf("member: set keys: install: %w", err)
		}
	}
	if err := l.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("member: set keys: use primary: %w", err)
	}
	// Remove from the end: memberlist's RemoveKey shifts later keys in place
	// in a slice concurrent decrypts may be reading, so removing trailing keys
	// (the usual case: the old key sits last after step 2) avoids that write.
	installed := slices.Clone(l.keyring.GetKeys())
	for i := len(installed) - 1; i >= 1; i-- {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, installed[i]) }) {
			if err := l.keyring.RemoveKey(installed[i]); err != nil {
				return fmt.Errorf("member: set keys: remove: %w", err)
			}
		}
	}
	l.log.Info("gossip keys set", "keys", len(keys))
	return nil
}

// Leave announces that this node is leaving, so others mark it left rather
// than dead, and waits up to timeout for the announcement to go out (0 waits
// until it has). The node keeps gossiping until Shutdown, which should follow.
func (l *List) Leave(timeout time.Duration) error {
	l.lifeMu.Lock()
	defer l.lifeMu.Unlock()
	if l.shutdown.Load() {
		return ErrShutdown
	}
	err := l.ml.Leave(timeout)
	l.kickRefresh()
	if err != nil {
		return fmt.Errorf("member: leave: %w (peers that missed it will see this node as dead)", err)
	}
	return nil
}

// Shutdown stops gossip without announcing it: others will see this node
// suspect, then dead. Call Leave first for a planned stop. Safe to call more
// than once; Peers keeps answering with the last known table.
func (l *List) Shutdown() error {
	l.lifeMu.Lock()
	defer l.lifeMu.Unlock()
	if l.shutdown.Swap(true) {
		return nil
	}
	close(l.stop)
	<-l.done
	if err := l.ml.Shutdown(); err != nil {
		return fmt.Errorf("member: shutdown: %w", err)
	}
	return nil
}

// kickRefresh asks the refresh loop to run soon. Never blocks.
func (l *List) kickRefresh() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// loop refreshes the peer table on every kick and every refresh period (the
// period is what catches suspicion, which memberlist reports to no delegate).
func (l *List) loop() {
	defer close(l.done)
	t := time.NewTicker(l.refreshDur)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-t.C:
		}
		l.refresh()
	}
}

// refresh merges memberlist's current view (or, without a stateView, the
// pending delegate events) into the table and calls OnChange for each change.
// REQUIRES: called from Start before loop starts, or from loop.
func (l *List) refresh() {
	var obs []observation
	if l.view != nil {
		obs = l.view.snapshot()
	}
	now := time.Now()
	var changed []Peer
	l.mu.Lock()
	if l.view == nil {
		obs = l.mu.pending
	}
	l.mu.pending = nil
	for _, o := range obs {
		if p, ok := l.applyLocked(o); ok {
			changed = append(changed, p)
		}
	}
	if l.view != nil {
		// A node memberlist no longer lists was reaped after being dead or
		// left; if we missed that transition, record it as dead now.
		seen := make(map[string]bool, len(obs))
		for _, o := range obs {
			seen[o.name] = true
		}
		for name, e := range l.mu.peers {
			if !seen[name] && (e.peer.State == StateAlive || e.peer.State == StateSuspect) {
				o := observation{name: name, addr: e.peer.Addr, state: StateDead, since: now, meta: e.raw}
				if p, ok := l.applyLocked(o); ok {
					changed = append(changed, p)
				}
			}
		}
	}
	l.mu.Unlock()
	if l.cfg.OnChange != nil {
		for _, p := range changed {
			l.cfg.OnChange(p)
		}
	}
}

// applyLocked merges one observation into the table and returns the updated
// peer if anything visible changed. A zero o.since keeps the current Since.
// REQUIRES: l.mu held.
func (l *List) applyLocked(o observation) (Peer, bool) {
	e, ok := l.mu.peers[o.name]
	if !ok {
		e = &entry{peer: Peer{Name: o.name}}
	}
	changed := !ok
	if !ok || !bytes.Equal(e.raw, o.meta) {
		m, err := decodeMeta(o.meta)
		if err != nil {
			l.log.Warn("ignoring undecodable meta from peer", "peer", o.name, "err", err)
		}
		e.peer.Meta, e.raw = m, o.meta
		changed = true
	}
	if e.peer.Addr != o.addr {
		e.peer.Addr = o.addr
		changed = true
	}
	if e.peer.State != o.state {
		e.peer.State = o.state
		e.peer.Since = o.since
		if o.since.IsZero() {
			e.peer.Since = time.Now()
		}
		changed = true
	} else if !o.since.IsZero() && !o.since.Equal(e.peer.Since) {
		// It went through other states between two refreshes.
		e.peer.Since = o.since
		changed = true
	}
	l.mu.peers[o.name] = e
	return e.peer.clone(), changed
}

// delegate serves the local meta to memberlist. Its methods run on
// memberlist's goroutines, sometimes under its locks: they must not block or
// call back into memberlist.
type delegate List

var _ memberlist.Delegate = (*delegate)(nil)

// NodeMeta returns the encoding stored by the last successful loadMeta.
func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.meta.Load()
	if len(b) > limit { // cannot happen: encoded for MaxMetaBytes
		return nil
	}
	return b
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// events receives memberlist's join, leave and update notifications, which
// it calls with its node table write-locked: they only record and kick.
type events List

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) NotifyJoin(n *memberlist.Node)   { e.note(n, StateAlive, time.Now()) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.note(n, StateAlive, time.Time{}) }

// NotifyLeave cannot tell a failure from a graceful leave (n.State is always
// alive in memberlist v0.7.0); with a stateView, refresh reads the real one.
func (e *events) NotifyLeave(n *memberlist.Node) { e.note(n, StateDead, time.Now()) }

func (e *events) note(n *memberlist.Node, s State, since time.Time) {
	l := (*List)(e)
	if l.shutdown.Load() {
		// memberlist does not stop its suspicion timers on Shutdown; they
		// may still declare nodes dead afterwards. Nobody reads them now.
		return
	}
	o := observation{
		name:  n.Name,
		addr:  n.Address(),
		state: s,
		since: since,
		meta:  bytes.Clone(n.Meta),
	}
	l.mu.Lock()
	l.mu.pending = append(l.mu.pending, o)
	l.mu.Unlock()
	l.kickRefresh()
}
