package membership

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Log holds a group's ops (always causally closed: every op's parents are
// in it) and the State they produce. It is not safe for concurrent use; the
// node serialises access.
type Log struct {
	group GroupID
	ops   map[OpID]*Op
	heads map[OpID]struct{}
	order []OpID // total order: (Lamport, id)
	state *State // state after order; nil when it must be rebuilt
}

// Compare is the log's total order: Lamport clock, then op id. Because an
// op's Lamport is 1 + max(parents'), this order is also topological.
func Compare(a *Op, aid OpID, b *Op, bid OpID) int {
	if c := cmp.Compare(a.Lamport, b.Lamport); c != 0 {
		return c
	}
	return bytes.Compare(aid[:], bid[:])
}

func less(a *Op, aid OpID, b *Op, bid OpID) bool { return Compare(a, aid, b, bid) < 0 }

// NewLog starts a log from a group's genesis op.
func NewLog(genesis *Op) (*Log, error) {
	if genesis.Kind != KindCreate {
		return nil, fmt.Errorf("%w: first op must be create, not %s", ErrMalformed, genesis.Kind)
	}
	if err := genesis.Validate(); err != nil {
		return nil, err
	}
	id := genesis.ID()
	l := &Log{group: id, ops: map[OpID]*Op{id: genesis}, heads: map[OpID]struct{}{id: {}}, order: []OpID{id}}
	l.state = newState()
	l.state.step(genesis, id)
	return l, nil
}

// Clone returns a log that holds the same ops and can grow apart from l.
// Ops and built states are shared: neither is ever modified in place.
func (l *Log) Clone() *Log {
	return &Log{group: l.group, ops: maps.Clone(l.ops), heads: maps.Clone(l.heads), order: slices.Clone(l.order), state: l.state}
}

// Group is the group id.
func (l *Log) Group() GroupID { return l.group }

// Len is the number of ops held.
func (l *Log) Len() int { return len(l.ops) }

// Has reports whether the op is held.
func (l *Log) Has(id OpID) bool { _, ok := l.ops[id]; return ok }

// Get returns a held op.
func (l *Log) Get(id OpID) (*Op, bool) { o, ok := l.ops[id]; return o, ok }

// Heads are the ops no other op names as parent, sorted: the parents of the
// next local op.
func (l *Log) Heads() []OpID {
	return slices.SortedFunc(maps.Keys(l.heads), func(a, b OpID) int { return bytes.Compare(a[:], b[:]) })
}

// Ops returns the held ops in the total order.
func (l *Log) Ops() []*Op {
	out := make([]*Op, len(l.order))
	for i, id := range l.order {
		out[i] = l.ops[id]
	}
	return out
}

// State returns the state after all held ops. Do not modify it.
func (l *Log) State() *State {
	if l.state == nil {
		l.state = l.build(l.order)
	}
	return l.state
}

func (l *Log) build(order []OpID) *State {
	s := newState()
	for _, id := range order {
		s.step(l.ops[id], id)
	}
	return s
}

// Insert validates o and adds it. It returns false, nil for an op already
// held. Errors: the Validate errors, ErrWrongGroup, ErrUnknownParent (the
// caller should fetch the parents and retry), ErrBadLamport, and any error of
// applying o to the state of its own causal past (ErrNotAuthorized,
// ErrNotMember, ErrPrecondition, invite errors...): an op its author could
// not validly sign given what it had seen is rejected outright, by every node
// alike. An op that is valid in its causal past but not at its place in the
// total order is kept and listed in State.Dropped.
func (l *Log) Insert(o *Op) (bool, error) {
	id := o.ID()
	if l.Has(id) {
		return false, nil
	}
	if err := o.Validate(); err != nil {
		return false, err
	}
	if o.Group != l.group {
		return false, ErrWrongGroup
	}
	var maxLamport uint64
	for _, p := range o.Parents {
		po, ok := l.ops[p]
		if !ok {
			return false, fmt.Errorf("%w: %s", ErrUnknownParent, p)
		}
		maxLamport = max(maxLamport, po.Lamport)
	}
	if o.Lamport != maxLamport+1 {
		return false, fmt.Errorf("%w: %d after %d", ErrBadLamport, o.Lamport, maxLamport)
	}
	if err := l.causalState(o).apply(o, id); err != nil {
		return false, fmt.Errorf("in its causal past: %w", err)
	}
	l.ops[id] = o
	for _, p := range o.Parents {
		delete(l.heads, p)
	}
	l.heads[id] = struct{}{}
	last := l.order[len(l.order)-1]
	if less(l.ops[last], last, o, id) {
		l.order = append(l.order, id)
		if l.state != nil {
			l.state = l.state.clone()
			l.state.step(o, id)
		}
		return true, nil
	}
	i, _ := slices.BinarySearchFunc(l.order, id, func(a, b OpID) int {
		if less(l.ops[a], a, o, b) {
			return -1
		}
		return 1
	})
	l.order = slices.Insert(l.order, i, id)
	l.state = nil
	return true, nil
}

// causalState is the state produced by o's ancestors alone, in the total
// order. When o's parents are the current heads that is the whole log.
func (l *Log) causalState(o *Op) *State {
	if len(o.Parents) == len(l.heads) {
		all := true
		for _, p := range o.Parents {
			if _, ok := l.heads[p]; !ok {
				all = false
				break
			}
		}
		if all {
			return l.State().clone()
		}
	}
	anc := map[OpID]bool{}
	stack := slices.Clone(o.Parents)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if anc[id] {
			continue
		}
		anc[id] = true
		stack = append(stack, l.ops[id].Parents...)
	}
	order := make([]OpID, 0, len(anc))
	for _, id := range l.order {
		if anc[id] {
			order = append(order, id)
		}
	}
	return l.build(order)
}
