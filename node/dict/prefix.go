package dict

import (
	"regexp/syntax"
	"unicode/utf8"
)

// prefixPossible reports whether some string that starts with prefix matches
// the Go regular expression pattern (as regexp.MatchString would, i.e. a
// match anywhere unless anchored).
//
// It runs the pattern's compiled program over prefix as a set of threads and
// then asks whether a match instruction is still reachable. Empty-width
// assertions other than begin and end of text are assumed to hold, so the
// answer errs towards true; it is exact for the anchored patterns that key
// patterns are in practice.
func prefixPossible(pattern, prefix string) (bool, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return false, err
	}
	if prog.StartCond()&syntax.EmptyBeginText == 0 {
		// Not anchored at the start: a match can follow any prefix.
		return true, nil
	}
	s := prefixSim{prog: prog}
	cur := s.closure(nil, uint32(prog.Start), 0, false)
	if s.matched {
		return true, nil // the pattern matches a prefix of prefix, hence prefix itself
	}
	for pos, r := range prefix {
		next := map[uint32]bool{}
		for pc := range cur {
			inst := &prog.Inst[pc]
			if isRuneOp(inst.Op) && inst.MatchRune(r) {
				next = s.closure(next, inst.Out, pos+utf8.RuneLen(r), false)
			}
		}
		if s.matched {
			// A match ended inside prefix and was not tied to the end of text:
			// prefix itself matches, since matching is a search.
			return true, nil
		}
		if len(next) == 0 {
			return false, nil
		}
		cur = next
	}
	// Can some continuation reach a match? Any path through the program
	// counts, except through a begin-of-text assertion.
	seen := map[uint32]bool{}
	stack := make([]uint32, 0, len(cur))
	for pc := range cur {
		stack = append(stack, pc)
	}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		inst := &prog.Inst[pc]
		switch inst.Op {
		case syntax.InstMatch:
			return true, nil
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, inst.Out, inst.Arg)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&syntax.EmptyBeginText == 0 {
				stack = append(stack, inst.Out)
			}
		default:
			stack = append(stack, inst.Out)
		}
	}
	return false, nil
}

// prefixSim follows the epsilon transitions of a program.
type prefixSim struct {
	prog    *syntax.Prog
	matched bool // a match instruction was reached by some closure
}

// closure adds to set the rune-consuming instructions (and the end-of-text
// assertions blocked because atEnd is false) reachable from pc without
// consuming input, at byte position pos; atEnd says whether the text
// may end here. It records in s.matched whether a match was reachable.
func (s *prefixSim) closure(set map[uint32]bool, pc uint32, pos int, atEnd bool) map[uint32]bool {
	if set == nil {
		set = map[uint32]bool{}
	}
	seen := map[uint32]bool{}
	stack := []uint32{pc}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		inst := &s.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstMatch:
			s.matched = true
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, inst.Out, inst.Arg)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, inst.Out)
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(inst.Arg)
			if op&syntax.EmptyBeginText != 0 && pos != 0 {
				continue
			}
			if op&syntax.EmptyEndText != 0 && !atEnd {
				// Blocked while input follows; kept in the set in case the
				// prefix ends here, for the reachability test.
				set[pc] = true
				continue
			}
			stack = append(stack, inst.Out)
		default:
			if isRuneOp(inst.Op) {
				set[pc] = true
			}
		}
	}
	return set
}

// isRuneOp reports whether op consumes one rune.
func isRuneOp(op syntax.InstOp) bool {
	switch op {
	case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		return true
	}
	return false
}
