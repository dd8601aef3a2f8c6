package sim

import (
	"errors"
	"fmt"

	"github.com/anishathalye/porcupine"

	"github.com/lienthong/lienthong/node/meta"
)

// The control plane is modelled, not run: hashicorp/raft keeps its own
// wall-clock timers and goroutines, which a deterministic simulation cannot
// schedule. The model keeps Raft's contract: one log of commands applied
// with the same View.Apply as the real state machine; a proposal commits
// only if its node reaches a leader that reaches a majority of the seeds;
// nodes learn committed entries only while they reach the leader, and keep
// serving their last copy otherwise. Real Raft is tested with real
// processes (cli tests, with a porcupine check of its own).

// errNoQuorum is returned for a proposal without a reachable quorum.
var errNoQuorum = errors.New("sim: no quorum: the proposer reaches no leader with a majority of the seeds")

// control is the simulated control plane: the committed log.
type control struct {
	log  []meta.Command
	view *meta.View // after every entry
	// history of dataset metadata operations, for porcupine.
	history []porcupine.Operation
	// proposals made where no majority was reachable, and how many of
	// them were refused.
	minority, minorityRefused int
	violations                []string
}

// seeds returns the seed nodes.
func (s *Sim) seeds() []*node {
	var out []*node
	for _, n := range s.nodes {
		if n.spec.Kind == kindSeed {
			out = append(out, n)
		}
	}
	return out
}

// leader returns the leader: the first seed, in name order, that is up and
// reaches a majority of the seeds (itself included); nil if none does.
func (s *Sim) leader() *node {
	seeds := s.seeds()
	for _, l := range seeds {
		if l.up && s.quorumFrom(l, seeds) {
			return l
		}
	}
	return nil
}

func (s *Sim) quorumFrom(l *node, seeds []*node) bool {
	n := 0
	for _, o := range seeds {
		if s.reachable(l, o) {
			n++
		}
	}
	return 2*n > len(seeds)
}

// majorityFor reports, from the network alone, whether node n reaches some
// seed that reaches a majority of the seeds: the condition for a write to
// commit, checked against what the control plane did.
func (s *Sim) majorityFor(n *node) bool {
	seeds := s.seeds()
	for _, l := range seeds {
		if s.reachable(n, l) && s.quorumFrom(l, seeds) {
			return true
		}
	}
	return false
}

// propose commits c if n reaches a leader with a quorum, and applies it at
// n before returning (as a real node waits for its own apply).
func (s *Sim) propose(n *node, c meta.Command) (*meta.View, error) {
	majority := s.majorityFor(n)
	if !majority {
		s.ctl.minority++
	}
	l := s.leader()
	if l == nil || !n.up || !s.reachable(n, l) {
		if !majority {
			s.ctl.minorityRefused++
		}
		s.record("propose", n, nil, "refused "+c.Op)
		return nil, fmt.Errorf("%w (%s at %s)", errNoQuorum, c.Op, n.spec.Name)
	}
	if !majority {
		s.ctl.violations = append(s.ctl.violations, fmt.Sprintf("%s committed at %s at %s without a reachable majority", c.Op, n.spec.Name, s.now))
	}
	c.At = s.wall()
	c.By = n.id.String()
	s.ctl.log = append(s.ctl.log, c)
	next, err := s.ctl.view.ApplyAuthorized(uint64(len(s.ctl.log)), c)
	if err == nil {
		s.ctl.view = next
		s.recordMeta(c)
	}
	s.record("propose", n, nil, fmt.Sprintf("%s index=%d err=%v", c.Op, len(s.ctl.log), err != nil))
	s.deliver(n)
	s.deliver(l)
	for _, m := range s.nodes {
		if m != n && m != l && s.reachable(l, m) {
			s.after(s.latency(l, m), "meta", m, l, func() string { return s.deliver(m) })
		}
	}
	if err != nil {
		return nil, err
	}
	return n.meta.View(), nil
}

// deliver applies the log entries n lacks, if n reaches the leader; then
// n's driver hears of it (and n forgets what it may no longer read).
func (s *Sim) deliver(n *node) string {
	if n.meta.applied == len(s.ctl.log) {
		return "current"
	}
	if l := s.leader(); l == nil || !s.reachable(n, l) {
		return "no leader"
	}
	v := n.meta.View()
	for _, c := range s.ctl.log[n.meta.applied:] {
		n.meta.applied++
		if next, err := v.ApplyAuthorized(uint64(n.meta.applied), c); err == nil {
			v = next
		}
	}
	n.meta.view.Store(v)
	if n.up {
		n.drv.MetaChanged(s.ctx)
	}
	return fmt.Sprintf("applied=%d", n.meta.applied)
}

// The porcupine model: the owner and readers of each dataset, written by
// metadata commands and read, linearizably, at nodes that catch up with the
// leader first.
type metaInput struct {
	write   bool
	dataset string
	value   string // for a write
}

func datasetValue(v *meta.View, name string) string {
	d := v.Dataset(name)
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%s@%d %v", d.Owner, d.OwnerEpoch, d.Readers)
}

var metaModel = porcupine.Model{
	Init: func() any { return map[string]string{} },
	Step: func(state, input, output any) (bool, any) {
		st, in := state.(map[string]string), input.(metaInput)
		if in.write {
			next := make(map[string]string, len(st)+1)
			for k, v := range st {
				next[k] = v
			}
			next[in.dataset] = in.value
			return true, next
		}
		return output.(string) == st[in.dataset], st
	},
	Equal: func(a, b any) bool {
		x, y := a.(map[string]string), b.(map[string]string)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		return true
	},
}

// recordMeta adds a committed dataset command to the history.
func (s *Sim) recordMeta(c meta.Command) {
	name := c.Name
	if c.Dataset != nil {
		name = c.Dataset.Name
	}
	if name == "" || s.ctl.view.Dataset(name) == nil {
		return
	}
	t := int64(s.now)
	s.ctl.history = append(s.ctl.history, porcupine.Operation{ClientId: 0,
		Input: metaInput{write: true, dataset: name, value: datasetValue(s.ctl.view, name)}, Call: t, Output: "", Return: t})
}

// consistentRead reads a dataset's metadata at n after catching up with the
// leader (a read index), as `?consistent=true` does; it records the read.
func (s *Sim) consistentRead(n *node, dataset string) string {
	if l := s.leader(); !n.up || l == nil || !s.reachable(n, l) {
		return "no leader"
	}
	call := int64(s.now)
	s.deliver(n)
	got := datasetValue(n.meta.View(), dataset)
	s.ctl.history = append(s.ctl.history, porcupine.Operation{ClientId: 1 + n.idx,
		Input: metaInput{dataset: dataset}, Call: call, Output: got, Return: int64(s.now)})
	return got
}
