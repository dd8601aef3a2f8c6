package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lienthong/lienthong/node/meta"
)

// selectNodes returns the nodes a selector names: a node name, region:R,
// kind:K (seed, province, ministry) or all.
func (s *Sim) selectNodes(sel string) ([]*node, error) {
	var out []*node
	k, v, _ := strings.Cut(sel, ":")
	for _, n := range s.nodes {
		switch {
		case sel == "all",
			k == "region" && n.spec.Region == v,
			k == "kind" && n.spec.Kind == v,
			n.spec.Name == sel:
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("selector %q names no node of topology %s (use a node name, region:north|centre|south, kind:seed|province|ministry|district or all)",
			sel, s.sc.Topology)
	}
	return out, nil
}

// cutBetween cuts every link between the nodes of as and of bs, one way
// (a to b) or both.
func cutBetween(f *fault, as, bs []*node, both bool) {
	for _, a := range as {
		for _, b := range bs {
			if a == b {
				continue
			}
			f.cut[[2]int{a.idx, b.idx}] = true
			if both {
				f.cut[[2]int{b.idx, a.idx}] = true
			}
		}
	}
}

func newFault() *fault {
	return &fault{cut: map[[2]int]bool{}, link: map[[2]int]linkQuality{}}
}

// scheduleEvents turns the scenario's events into scheduled actions,
// checking every selector first.
func (s *Sim) scheduleEvents() error {
	for i, e := range s.sc.Events {
		act, err := s.action(e)
		if err != nil {
			return fmt.Errorf("%w: events[%d] at %s: %v", ErrScenario, i, e.At.D(), err)
		}
		s.after(e.At.D(), "event", nil, nil, act)
	}
	return nil
}

// action returns what an event does when its time comes.
func (s *Sim) action(e Event) (func() string, error) {
	sel := func(names ...string) ([][]*node, error) {
		var out [][]*node
		for _, n := range names {
			ns, err := s.selectNodes(n)
			if err != nil {
				return nil, err
			}
			out = append(out, ns)
		}
		return out, nil
	}
	until := e.Until.D()
	// network adds f, and removes it at until.
	network := func(f *fault, what string) func() string {
		return func() string {
			id := s.net.add(f)
			if until > 0 {
				s.after(until-e.At.D(), "event", nil, nil, func() string {
					s.net.remove(id)
					s.afterHeal()
					return "end of " + what
				})
			}
			return what
		}
	}
	switch {
	case len(e.Partition) > 0:
		groups, err := sel(flatten(e.Partition)...)
		if err != nil {
			return nil, err
		}
		f, i := newFault(), 0
		var parts [][]*node
		for _, g := range e.Partition {
			var part []*node
			for range g {
				part = append(part, groups[i]...)
				i++
			}
			parts = append(parts, part)
		}
		for a := range parts {
			for b := range parts {
				if a != b {
					cutBetween(f, parts[a], parts[b], true)
				}
			}
		}
		return network(f, fmt.Sprintf("partition %v", e.Partition)), nil
	case e.Isolate != "":
		g, err := sel(e.Isolate)
		if err != nil {
			return nil, err
		}
		f := newFault()
		var rest []*node
		for _, n := range s.nodes {
			if !slices.Contains(g[0], n) {
				rest = append(rest, n)
			}
		}
		cutBetween(f, g[0], rest, true)
		return network(f, "isolate "+e.Isolate), nil
	case e.Cut != nil:
		g, err := sel(e.Cut.From, e.Cut.To)
		if err != nil {
			return nil, err
		}
		f := newFault()
		cutBetween(f, g[0], g[1], false)
		return network(f, fmt.Sprintf("cut %s -> %s", e.Cut.From, e.Cut.To)), nil
	case len(e.Chain) > 0:
		g, err := sel(e.Chain...)
		if err != nil {
			return nil, err
		}
		f := newFault()
		cutBetween(f, g[0], g[2], true)
		return network(f, fmt.Sprintf("chain %v", e.Chain)), nil
	case e.Link != nil:
		g, err := sel(e.Link.From, e.Link.To)
		if err != nil {
			return nil, err
		}
		f := newFault()
		q := linkQuality{loss: e.Link.Loss, dup: e.Link.Duplicate, delay: e.Link.Delay.D()}
		for _, a := range g[0] {
			for _, b := range g[1] {
				if a != b {
					f.link[[2]int{a.idx, b.idx}] = q
					if e.Link.Both {
						f.link[[2]int{b.idx, a.idx}] = q
					}
				}
			}
		}
		return network(f, fmt.Sprintf("link %s -> %s %+v", e.Link.From, e.Link.To, q)), nil
	case e.Flap != nil:
		g, err := sel(e.Flap.From, e.Flap.To)
		if err != nil {
			return nil, err
		}
		f := newFault()
		f.flaps, f.on = true, true
		cutBetween(f, g[0], g[1], true)
		start := network(f, fmt.Sprintf("flap %s <-> %s every %s", e.Flap.From, e.Flap.To, e.Flap.Every.D()))
		return func() string {
			out := start()
			var toggle func() string
			toggle = func() string {
				if !slices.Contains(s.net.faults, f) {
					return "flap over"
				}
				f.on = !f.on
				s.net.rebuild()
				s.after(e.Flap.Every.D(), "event", nil, nil, toggle)
				return fmt.Sprintf("flap on=%v", f.on)
			}
			s.after(e.Flap.Every.D(), "event", nil, nil, toggle)
			return out
		}, nil
	case e.Heal:
		return func() string {
			s.net.healAll()
			s.afterHeal()
			return "heal"
		}, nil
	case e.Crash != "":
		g, err := sel(e.Crash)
		if err != nil {
			return nil, err
		}
		return func() string {
			for _, n := range g[0] {
				switch {
				case !n.up:
				case e.Unsynced:
					n.crashArmed = true // syncSoon crashes it
				default:
					n.crash()
					s.stats.Crashes++
				}
			}
			if until > 0 {
				s.after(until-e.At.D(), "event", nil, nil, func() string { return s.restart(g[0]) })
			}
			return "crash " + e.Crash
		}, nil
	case e.Restart != "":
		g, err := sel(e.Restart)
		if err != nil {
			return nil, err
		}
		return func() string { return s.restart(g[0]) }, nil
	case e.Skew != nil:
		g, err := sel(e.Skew.Node)
		if err != nil {
			return nil, err
		}
		return s.setting(g[0], until-e.At.D(), fmt.Sprintf("skew %s by %s", e.Skew.Node, e.Skew.By.D()),
			func(n *node) { n.skew = e.Skew.By.D() }, func(n *node) { n.skew = 0 }), nil
	case e.Slow != nil:
		g, err := sel(e.Slow.Node)
		if err != nil {
			return nil, err
		}
		if e.Slow.Factor < 1 {
			return nil, fmt.Errorf("slow: factor %v, want at least 1", e.Slow.Factor)
		}
		return s.setting(g[0], until-e.At.D(), fmt.Sprintf("slow %s x%v", e.Slow.Node, e.Slow.Factor),
			func(n *node) { n.slow = e.Slow.Factor }, func(n *node) { n.slow = 1 }), nil
	case e.Transfer != nil:
		return s.metaAction(e.Transfer.At, meta.Command{Op: meta.OpTransfer, Name: e.Transfer.Dataset, To: e.Transfer.To})
	case e.Grant != nil:
		return s.metaAction(e.Grant.At, meta.Command{Op: meta.OpGrant, Name: e.Grant.Dataset, Reader: e.Grant.Reader})
	case e.Revoke != nil:
		return s.metaAction(e.Revoke.At, meta.Command{Op: meta.OpRevoke, Name: e.Revoke.Dataset, Reader: e.Revoke.Reader})
	}
	return nil, fmt.Errorf("no action")
}

func flatten(groups [][]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// setting applies set to the nodes now and reset after d (if positive).
func (s *Sim) setting(ns []*node, d time.Duration, what string, set, reset func(*node)) func() string {
	return func() string {
		for _, n := range ns {
			set(n)
		}
		if d > 0 {
			s.after(d, "event", nil, nil, func() string {
				for _, n := range ns {
					reset(n)
				}
				return "end of " + what
			})
		}
		return what
	}
}

// metaAction proposes c at the named node (default: the first seed).
func (s *Sim) metaAction(at string, c meta.Command) (func() string, error) {
	if at == "" {
		at = s.seeds()[0].spec.Name
	}
	n := s.byName[at]
	if n == nil {
		return nil, fmt.Errorf("%s: at %q is not a node", c.Op, at)
	}
	return func() string {
		_, err := s.propose(n, c)
		return fmt.Sprintf("%s at %s: err=%v", c.Op, at, err)
	}, nil
}

// restart starts the crashed nodes among ns again.
func (s *Sim) restart(ns []*node) string {
	var out []string
	for _, n := range ns {
		n.crashArmed = false // an unsynced crash that found no apply in time
		if n.up {
			continue
		}
		if err := n.start(); err != nil {
			s.violation("restart", fmt.Sprintf("%s does not restart after a crash: %v", n.spec.Name, err))
			continue
		}
		s.checkAcked(n)
		s.deliver(n)
		out = append(out, n.spec.Name)
	}
	if len(out) > 0 {
		s.probe()
	}
	return "restart " + strings.Join(out, ",")
}

// afterHeal lets every node catch up with the metadata once links return.
func (s *Sim) afterHeal() {
	s.probe()
	for _, n := range s.nodes {
		if n.up {
			s.deliver(n)
		}
	}
}
