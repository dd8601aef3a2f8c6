package sim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrScenario is wrapped by every error in a scenario file.
var ErrScenario = errors.New("sim: bad scenario")

// Builtin holds the scenarios of sim/scenarios, runnable by name.
//
//go:embed scenarios/*.yaml
var Builtin embed.FS

// Duration is a time.Duration written as in Go ("90s", "1h30m", "24h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 90s, 1h30m, 24h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Scenario is one simulation: a topology, its network, a workload and timed
// events. docs/simulator.md describes every field.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Topology is "small" or "vn".
	Topology string `yaml:"topology"`
	// Districts adds that many district offices per province, each
	// reading its province's land dataset (to scale a run up).
	Districts int `yaml:"districts"`
	// Duration is how long the workload runs, in simulated time.
	Duration Duration `yaml:"duration"`
	// Quiet is the time after the final heal, without writes, before the
	// invariants are checked; zero means 10 minutes.
	Quiet Duration `yaml:"quiet"`
	// Seeds are the seeds `make sim` runs the scenario with.
	Seeds    []uint64 `yaml:"seeds"`
	Network  Network  `yaml:"network"`
	Workload Workload `yaml:"workload"`
	Events   []Event  `yaml:"events"`
}

// Network is the simulated WAN and the replication timers.
type Network struct {
	// One-way latency within a region, between adjacent regions
	// (north-centre, centre-south) and between north and south; zero
	// means 3 ms, 12 ms and 20 ms.
	Within   Duration `yaml:"within"`
	Adjacent Duration `yaml:"adjacent"`
	Far      Duration `yaml:"far"`
	// Jitter is the spread of every latency, as a fraction of it; zero
	// means 0.2.
	Jitter float64 `yaml:"jitter"`
	// SyncEvery is the anti-entropy interval; zero means 60 s.
	SyncEvery Duration `yaml:"sync_every"`
	// NotifyDelay is how long a node gathers changes before it tells its
	// readers; zero means 1 s.
	NotifyDelay Duration `yaml:"notify_delay"`
	// PullOnly turns streaming replication off, as replication.push:
	// false does at a node: notifications and pulls only.
	PullOnly bool `yaml:"pull_only"`
	// Retention is how long ops are kept before truncation; zero means
	// 7 days (the node's default).
	Retention Duration `yaml:"retention"`
}

// Workload is what the owners write.
type Workload struct {
	// Time between writes by each province to its land dataset, and by
	// the public security ministry to the citizens' identity (the health
	// ministry writes half as often); zero means 60 s and 10 s.
	ProvinceEvery Duration `yaml:"province_every"`
	MinistryEvery Duration `yaml:"ministry_every"`
	// Keys is the number of distinct entities per dataset, so that writes
	// overwrite each other; zero means 200.
	Keys int `yaml:"keys"`
}

// Event is one thing that happens at a simulated time. Exactly one action
// is set. Nodes are named by a selector: a node name, region:R, kind:K
// (seed, province or ministry) or all.
type Event struct {
	At Duration `yaml:"at"`
	// Until, for a fault, is when it ends by itself (zero: at a heal, or
	// for crash, never).
	Until Duration `yaml:"until"`

	// Partition splits the nodes into groups that cannot reach each other;
	// nodes in no group reach everyone.
	Partition [][]string `yaml:"partition"`
	// Isolate cuts the selected nodes off from every other node.
	Isolate string `yaml:"isolate"`
	// Cut drops everything from From to To (one direction).
	Cut *Pair `yaml:"cut"`
	// Chain is three selectors A, B, C: A and C can meet only through B.
	Chain []string `yaml:"chain"`
	// Link degrades the links from From to To (both ways if Both).
	Link *LinkFault `yaml:"link"`
	// Flap cuts and restores the links between From and To every Every.
	Flap *Flap `yaml:"flap"`
	// Heal ends every partition, cut, link fault and flap.
	Heal bool `yaml:"heal"`
	// Crash kills the selected nodes, keeping only what they synced;
	// Restart starts them again.
	Crash   string `yaml:"crash"`
	Restart string `yaml:"restart"`
	// Unsynced, with Crash, makes each node crash at its first apply of
	// replicated ops after At, before that apply is synced (if one comes
	// before Until), so the crash takes back ops the node had applied.
	Unsynced bool `yaml:"unsynced"`
	// Skew sets the clock offset of the selected nodes.
	Skew *Skew `yaml:"skew"`
	// Slow multiplies every latency to and from the selected nodes.
	Slow *Slow `yaml:"slow"`
	// Metadata writes, proposed at node At (default: the first seed).
	Transfer *Transfer `yaml:"transfer"`
	Grant    *Reader   `yaml:"grant"`
	Revoke   *Reader   `yaml:"revoke"`
}

// Pair names a direction between two selectors.
type Pair struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// LinkFault degrades links.
type LinkFault struct {
	From      string   `yaml:"from"`
	To        string   `yaml:"to"`
	Both      bool     `yaml:"both"`
	Loss      float64  `yaml:"loss"`      // probability that a request or its answer is lost
	Duplicate float64  `yaml:"duplicate"` // probability that an answer is delivered again, later
	Delay     Duration `yaml:"delay"`     // added one-way latency
}

// Flap cuts and restores links periodically.
type Flap struct {
	From  string   `yaml:"from"`
	To    string   `yaml:"to"`
	Every Duration `yaml:"every"`
}

// Skew offsets the clocks of nodes.
type Skew struct {
	Node string   `yaml:"node"`
	By   Duration `yaml:"by"`
}

// Slow makes nodes slow.
type Slow struct {
	Node   string  `yaml:"node"`
	Factor float64 `yaml:"factor"`
}

// Transfer moves a dataset to another owner.
type Transfer struct {
	Dataset string `yaml:"dataset"`
	To      string `yaml:"to"`
	At      string `yaml:"at"`
}

// Reader grants or revokes a read right.
type Reader struct {
	Dataset string `yaml:"dataset"`
	Reader  string `yaml:"reader"`
	At      string `yaml:"at"`
}

// LoadScenario reads a scenario from a file, or, if no such file exists,
// the built-in scenario of that name (e.g. "north-south-split").
func LoadScenario(nameOrPath string) (*Scenario, error) {
	b, err := os.ReadFile(nameOrPath)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsRune(nameOrPath, os.PathSeparator) {
		b, err = Builtin.ReadFile("scenarios/" + strings.TrimSuffix(nameOrPath, ".yaml") + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("%w: no file %q and no built-in scenario of that name (built in: %s)",
				ErrScenario, nameOrPath, strings.Join(BuiltinNames(), ", "))
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	return ParseScenario(b, filepath.Base(nameOrPath))
}

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string {
	entries, _ := Builtin.ReadDir("scenarios")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// ParseScenario decodes a scenario (strict: unknown keys are errors), fills
// in defaults and checks it; where names the source in errors.
func ParseScenario(b []byte, where string) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrScenario, where, err)
	}
	if err := s.defaults(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrScenario, where, err)
	}
	return &s, nil
}

func (s *Scenario) defaults() error {
	if s.Topology == "" {
		s.Topology = "small"
	}
	if s.Districts < 0 || s.Districts > 100 {
		return fmt.Errorf("districts %d: want 0 to 100 per province", s.Districts)
	}
	if s.Duration <= 0 {
		return errors.New("duration: give how long the workload runs, e.g. 2h")
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&s.Quiet, 10*time.Minute)
	def(&s.Network.Within, 3*time.Millisecond)
	def(&s.Network.Adjacent, 12*time.Millisecond)
	def(&s.Network.Far, 20*time.Millisecond)
	def(&s.Network.SyncEvery, time.Minute)
	def(&s.Network.NotifyDelay, time.Second)
	def(&s.Network.Retention, 7*24*time.Hour)
	def(&s.Workload.ProvinceEvery, time.Minute)
	def(&s.Workload.MinistryEvery, 10*time.Second)
	if s.Network.Jitter == 0 {
		s.Network.Jitter = 0.2
	}
	if s.Workload.Keys == 0 {
		s.Workload.Keys = 200
	}
	if len(s.Seeds) == 0 {
		s.Seeds = []uint64{1}
	}
	for i, e := range s.Events {
		if n := e.actions(); n != 1 {
			return fmt.Errorf("events[%d] at %s: %d actions; give exactly one (partition, isolate, cut, chain, link, flap, heal, crash, restart, skew, slow, transfer, grant, revoke)",
				i, e.At.D(), n)
		}
		if e.Until != 0 && e.Until <= e.At {
			return fmt.Errorf("events[%d]: until %s is not after at %s", i, e.Until.D(), e.At.D())
		}
		if e.Unsynced && e.Crash == "" {
			return fmt.Errorf("events[%d] at %s: unsynced qualifies a crash; add crash: NODES or remove unsynced", i, e.At.D())
		}
		if e.Flap != nil && e.Flap.Every <= 0 {
			return fmt.Errorf("events[%d]: flap needs every, e.g. 5m", i)
		}
		if len(e.Chain) != 0 && len(e.Chain) != 3 {
			return fmt.Errorf("events[%d]: chain needs three selectors A, B, C", i)
		}
		if e.At > s.Duration {
			return fmt.Errorf("events[%d] at %s: after the workload ends (%s)", i, e.At.D(), s.Duration.D())
		}
	}
	return nil
}

func (e *Event) actions() int {
	n := 0
	for _, set := range []bool{len(e.Partition) > 0, e.Isolate != "", e.Cut != nil, len(e.Chain) > 0, e.Link != nil,
		e.Flap != nil, e.Heal, e.Crash != "", e.Restart != "", e.Skew != nil, e.Slow != nil, e.Transfer != nil,
		e.Grant != nil, e.Revoke != nil} {
		if set {
			n++
		}
	}
	return n
}
