package node

// A poll's tally kept up to date action by action. polls.Fold reads every
// vote of a poll; doing that on every new vote made a busy poll cost
// O(votes) per vote (parley-bench --actions). A pollTally holds what the
// fold needs, applies each new vote in O(options) and gives the same
// Result as polls.Fold over the same set of actions; when it cannot tell
// (the closing close moved), it asks to be folded again from the store.

import (
	"bytes"
	"container/list"
	"slices"
	"sync"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/polls"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// tallyRef is an action's place in (lamport, id) order.
type tallyRef struct {
	lamport uint64
	id      store.MessageID
}

func (a tallyRef) less(b tallyRef) bool {
	if a.lamport != b.lamport {
		return a.lamport < b.lamport
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// tallyVote is a member's latest valid vote (choices sorted; empty: withdrawn).
type tallyVote struct {
	tallyRef
	choices []int
}

// tallyMod is a close or a delete of the poll: whether it counts depends on
// its author's role when the tally is read.
type tallyMod struct {
	tallyRef
	author string
	key    []byte
}

// pollTally is one poll's fold. Votes are applied relative to a basis: the
// close that closed the poll when they were applied (none: open). A vote
// at or after the basis's clock is left out; a member's vote before it
// replaces their held one if it orders later. A change of the closing
// close (a new close ordering first, a role change) keeps the state only
// when no vote it held or left out is affected; else the poll is folded
// again.
type pollTally struct {
	mu    sync.Mutex
	built bool
	poll  polls.Poll

	closes  []tallyMod // every close held, in (lamport, id) order
	deletes []tallyMod // every delete of the poll held
	basis   *tallyMod  // the close the votes are applied under; nil: open
	last    map[string]tallyVote
	counts  []int
	skipped bool // a valid vote at or after the basis's clock was left out
}

// mayModFn reports whether the author (by its key) is an admin or the owner now.
type mayModFn func(key []byte) bool

// build folds the poll from all its held actions (any order).
func (t *pollTally) build(p polls.Poll, acts []pollAct, mayMod mayModFn) {
	t.built, t.poll, t.skipped = true, p, false
	t.closes, t.deletes, t.basis = nil, nil, nil
	t.last, t.counts = map[string]tallyVote{}, make([]int, max(p.Options, 0))
	for i := range acts {
		if acts[i].kind != pollActVote {
			t.add(&acts[i])
		}
	}
	t.basis = t.closing(mayMod)
	for i := range acts {
		if acts[i].kind == pollActVote {
			t.add(&acts[i])
		}
	}
}

// add applies one action; applying one already held changes nothing.
func (t *pollTally) add(pa *pollAct) {
	ref := tallyRef{pa.act.Lamport, pa.act.ID}
	switch pa.kind {
	case pollActVote:
		if !polls.ValidChoices(t.poll, pa.act.Choices) {
			return
		}
		if t.basis != nil && ref.lamport >= t.basis.lamport {
			t.skipped = true
			return
		}
		cur, ok := t.last[pa.act.Author]
		if ok && !cur.less(ref) {
			return // an earlier vote, or this one again
		}
		for _, c := range cur.choices {
			t.counts[c]--
		}
		cs := slices.Clone(pa.act.Choices)
		slices.Sort(cs)
		for _, c := range cs {
			t.counts[c]++
		}
		t.last[pa.act.Author] = tallyVote{ref, cs}
	case pollActClose:
		i, found := slices.BinarySearchFunc(t.closes, ref, func(m tallyMod, r tallyRef) int {
			switch {
			case m.tallyRef == r:
				return 0
			case m.less(r):
				return -1
			}
			return 1
		})
		if !found {
			t.closes = slices.Insert(t.closes, i, tallyMod{ref, pa.act.Author, pa.key})
		}
	case pollActDelete:
		for _, d := range t.deletes {
			if d.tallyRef == ref {
				return
			}
		}
		t.deletes = append(t.deletes, tallyMod{ref, pa.act.Author, pa.key})
	}
}

// closing is the first close by the creator or a current admin.
func (t *pollTally) closing(mayMod mayModFn) *tallyMod {
	for i := range t.closes {
		c := &t.closes[i]
		if c.author == t.poll.Creator || (mayMod != nil && mayMod(c.key)) {
			cp := *c
			return &cp
		}
	}
	return nil
}

// settle moves the basis to the close that closes the poll now. It reports
// false when the held votes cannot follow (fold the poll again).
func (t *pollTally) settle(mayMod mayModFn) bool {
	nb := t.closing(mayMod)
	switch {
	case nb == nil && t.basis == nil:
	case nb != nil && t.basis != nil && nb.lamport == t.basis.lamport:
		// the same clock: the same votes count
	case nb == nil || (t.basis != nil && nb.lamport > t.basis.lamport):
		if t.skipped {
			return false // votes left out may count now
		}
	default: // an earlier close
		for _, v := range t.last {
			if v.lamport >= nb.lamport {
				return false // this vote stops counting; an earlier one may count instead
			}
		}
	}
	t.basis = nb
	return true
}

// result is the tally as polls.Fold gives it (settle first).
func (t *pollTally) result(mayMod mayModFn) polls.Result {
	r := polls.Result{Counts: make([]int, len(t.counts)), Votes: map[string][]int{}}
	if t.basis != nil {
		r.Closed, r.ClosedBy, r.CloseLamport = true, t.basis.author, t.basis.lamport
	}
	for _, d := range t.deletes {
		if d.author == t.poll.Creator || (mayMod != nil && mayMod(d.key)) {
			r.Deleted = true
			return r
		}
	}
	copy(r.Counts, t.counts)
	for m, v := range t.last {
		if len(v.choices) > 0 {
			r.Votes[m] = v.choices
		}
	}
	return r
}

// pollActOf is the action v takes on a poll, and the poll (ok false: none).
func pollActOf(v *envelope.Verified) (pollAct, store.MessageID, bool) {
	switch v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Vote, *wirepb.Body_PollClose, *wirepb.Body_Delete:
	default:
		return pollAct{}, store.MessageID{}, false
	}
	t := envelope.Targets(v.Msg.Body)
	if len(t) == 0 {
		return pollAct{}, store.MessageID{}, false
	}
	return pollActFrom(v), t[0], true
}

// pollTallies holds the tallies of the polls read last (at most
// pollTalliesCap; an evicted poll is folded from the store when read
// again). Every poll action a node stores is applied to its poll's tally
// when held (Node.pollUpdates), so a held tally matches the store.
type pollTallies struct {
	mu  sync.Mutex
	m   map[pollActKey]*list.Element // of *tallyEntry
	lru list.List                    // most recently used first
}

type tallyEntry struct {
	k pollActKey
	t *pollTally
}

const pollTalliesCap = 256

// entry is poll id's tally, created (not built) if not held.
func (c *pollTallies) entry(g store.GroupID, id store.MessageID) *pollTally {
	k := pollActKey{g, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*tallyEntry).t
	}
	if c.m == nil {
		c.m = map[pollActKey]*list.Element{}
	}
	t := &pollTally{}
	c.m[k] = c.lru.PushFront(&tallyEntry{k, t})
	for c.lru.Len() > pollTalliesCap {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.m, old.Value.(*tallyEntry).k)
	}
	return t
}

// held is poll id's tally if held.
func (c *pollTallies) held(g store.GroupID, id store.MessageID) *pollTally {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[pollActKey{g, id}]; ok {
		return e.Value.(*tallyEntry).t
	}
	return nil
}

// apply applies a stored message to its poll's tally, if held. A tally
// being folded meanwhile (its lock held) gets it after: the fold read the
// store after the message was stored, so applying it again is a no-op.
func (c *pollTallies) apply(g store.GroupID, v *envelope.Verified) {
	pa, poll, ok := pollActOf(v)
	if !ok {
		return
	}
	t := c.held(g, poll)
	if t == nil {
		return // read next from the store, which holds v
	}
	t.mu.Lock()
	if t.built {
		t.add(&pa)
	}
	t.mu.Unlock()
}
