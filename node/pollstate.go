package node

// Reading a poll's state: the poll message, the votes, closes and deletes
// that name it (store.Related, no history scan), folded by internal/polls.
// Used by Poll, by history listings (Message.Poll) and by the validator.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/polls"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// roleFn is a member's current role by its marshalled author key
// (RoleNone when unknown).
type roleFn func(author []byte) membership.Role

// pollReader reads polls of one group.
type pollReader struct {
	st    *store.Store
	g     store.GroupID
	self  peer.ID
	role  roleFn
	names map[peer.ID]string
	acts  *pollActs // decoded actions, shared across readers
}

// mayModerate: an admin or the owner may close any poll (and delete any
// message).
func (r *pollReader) mayModerate(author []byte) bool {
	return r.role != nil && r.role(author) >= membership.RoleAdmin
}

// load reads the poll v (a verified Poll message) with its tally: the
// held pollTally when the reader has them, else a full fold.
func (r *pollReader) load(v *envelope.Verified) (PollInfo, polls.Result, error) {
	p := v.Msg.Body.GetPoll()
	if p == nil {
		return PollInfo{}, polls.Result{}, fmt.Errorf("%w: message %x is not a poll", ErrNoSuchPoll, v.ID[:4])
	}
	fp := polls.Poll{Options: len(p.Options), Multi: p.Multi, Creator: v.Author.String()}
	var res polls.Result
	if r.acts == nil {
		acts, err := r.actions(v.ID)
		if err != nil {
			return PollInfo{}, polls.Result{}, err
		}
		res = foldActs(fp, acts, r.mayModerate)
	} else {
		t := r.acts.tallies.entry(r.g, v.ID)
		t.mu.Lock()
		if !t.built || !t.settle(r.mayModerate) {
			// Folded under the tally's lock: an action stored meanwhile
			// waits for it and is applied after (a no-op if read here).
			acts, err := r.actions(v.ID)
			if err != nil {
				t.built = false
				t.mu.Unlock()
				return PollInfo{}, polls.Result{}, err
			}
			t.build(fp, acts, r.mayModerate)
		}
		res = t.result(r.mayModerate)
		t.mu.Unlock()
	}
	return r.info(v, p, res), res, nil
}

// foldActs is the full fold of a poll's actions (what a pollTally must match).
func foldActs(fp polls.Poll, acts []pollAct, mayMod mayModFn) polls.Result {
	keys := map[string][]byte{}
	var as []polls.Action
	for _, pa := range acts {
		keys[pa.act.Author] = pa.key
		switch pa.kind {
		case pollActVote, pollActClose:
			as = append(as, pa.act)
		case pollActDelete:
			if pa.act.Author == fp.Creator || (mayMod != nil && mayMod(pa.key)) {
				fp.Deleted = true
			}
		}
	}
	return polls.Fold(fp, as, func(author string) bool { return mayMod != nil && mayMod(keys[author]) })
}

// actions reads the held messages naming poll id, each decoded once
// (r.acts caches them across readers).
func (r *pollReader) actions(id store.MessageID) ([]pollAct, error) {
	var acts []pollAct
	var derr error
	err := r.st.RelatedIDs(r.g, id, func(lamport uint64, id store.MessageID) bool {
		pa, ok := r.acts.get(r.g, id)
		if !ok {
			s, err := r.st.GetAt(r.g, lamport, id)
			if errors.Is(err, store.ErrNotFound) {
				return true
			}
			if err != nil {
				derr = err
				return false
			}
			if s.Erased {
				return true
			}
			if pa, err = decodePollAct(s.Raw); err != nil {
				derr = err
				return false
			}
			r.acts.put(r.g, id, pa)
		}
		acts = append(acts, pa)
		return true
	})
	if err == nil {
		err = derr
	}
	return acts, err
}

func (r *pollReader) info(v *envelope.Verified, p *wirepb.Poll, res polls.Result) PollInfo {
	me := r.self.String()
	pi := PollInfo{ID: hex.EncodeToString(v.ID[:]), Group: hex.EncodeToString(r.g[:]), Question: p.Question,
		Multi: p.Multi, Anonymous: p.Anonymous, Closed: res.Closed, ClosedBy: res.ClosedBy, Deleted: res.Deleted,
		Creator: v.Author.String(), TotalVoters: len(res.Votes), MyChoices: append([]int{}, res.Votes[me]...)}
	for i, text := range p.Options {
		o := PollOption{Text: text, Count: res.Counts[i]}
		for _, c := range res.Votes[me] {
			o.Mine = o.Mine || c == i
		}
		if !p.Anonymous {
			for _, id := range res.Voters(i) {
				pv := PollVoter{ID: id}
				if pid, err := peer.Decode(id); err == nil {
					pv.Name = r.names[pid]
				}
				o.Voters = append(o.Voters, pv)
			}
		}
		pi.Options = append(pi.Options, o)
	}
	return pi
}

// find resolves a poll id: the full hex id or a unique prefix of at least
// MinPollPrefix hex digits naming a poll of the group.
func (r *pollReader) find(pollID string) (*envelope.Verified, error) {
	s := strings.ToLower(strings.TrimSpace(pollID))
	if len(s) < MinPollPrefix || len(s) > 2*store.MessageIDLen {
		return nil, fmt.Errorf("%w: a poll id is %d to %d hex digits", ErrInvalidInput, MinPollPrefix, 2*store.MessageIDLen)
	}
	if _, err := hex.DecodeString(s[:len(s)&^1]); err != nil || (len(s)%2 == 1 && !isHex(s[len(s)-1])) {
		return nil, fmt.Errorf("%w: poll id %q is not hex", ErrInvalidInput, pollID)
	}
	ids, err := r.st.IDsWithPrefix(r.g, s, 64)
	if err != nil {
		return nil, err
	}
	var found []*envelope.Verified
	erased := false
	for _, id := range ids {
		st, err := r.st.Get(r.g, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if st.Erased { // a deleted message, the poll's body erased with it
			erased = true
			continue
		}
		v, err := envelope.DecodeSigned(st.Raw)
		if err != nil || v.Msg.Body.GetPoll() == nil {
			continue
		}
		found = append(found, v)
	}
	switch {
	case len(found) == 0 && erased:
		return nil, fmt.Errorf("%w: %q", ErrPollDeleted, pollID)
	case len(found) == 0:
		return nil, fmt.Errorf("%w: %q", ErrNoSuchPoll, pollID)
	case len(found) == 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %q matches %d polls; give more digits", ErrAmbiguousPoll, pollID, len(found))
}

func isHex(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') }

// logRoles is roleFn over a membership log (nil log: no roles).
func logRoles(l *membership.Log) roleFn {
	if l == nil {
		return nil
	}
	st := l.State()
	return func(author []byte) membership.Role {
		k, err := memberKeyOf(author)
		if err != nil {
			return membership.RoleNone
		}
		return st.Role(k)
	}
}

// storedLog rebuilds a group's membership log from the stored ops (what
// Local reads without a running node); nil for a legacy group.
func (l *Local) storedLog(g store.GroupID) *membership.Log {
	// Replaying verifies every op's signature (about 50 us each), and the
	// group list, history names and polls ask for the log on every call.
	// So the log is kept while the store's membership version stands, and
	// when ops were added only those are verified, into a copy: stored ops
	// are never removed, and readers may still hold the previous log.
	ver := l.st.MembershipVersion()
	c, cached := l.logs.get(g)
	if cached && c.ver == ver {
		return c.v
	}
	raws, err := l.st.MembershipOps(g)
	if err != nil || len(raws) == 0 {
		return nil
	}
	m := &gmem{pending: map[membership.OpID]*membership.Op{}}
	if cached && c.v != nil {
		m.log = c.v.Clone()
	}
	for _, raw := range raws {
		o, err := membership.DecodeOp(raw)
		if err != nil {
			continue
		}
		if o.Kind == membership.KindCreate {
			if m.log == nil {
				m.log, _ = membership.NewLog(o)
			}
			continue
		}
		if id := o.ID(); m.log == nil || !m.log.Has(id) {
			m.pending[id] = o
		}
	}
	if m.log == nil {
		return nil
	}
	m.drainPending()
	m.log.State() // built now, so readers sharing the log never build it concurrently
	l.logs.put(g, ver, m.log)
	return m.log
}

// localPolls is a pollReader for Local (roles from the stored log).
func (l *Local) pollReader(g store.GroupID) *pollReader {
	return &pollReader{st: l.st, g: g, self: l.self, role: logRoles(l.storedLog(g)), names: l.memberNames(g), acts: &l.pollActs}
}

// nodePolls is a pollReader with the running node's live roles and names.
func (n *Node) pollReader(g *group) *pollReader {
	g.mem.mu.Lock()
	role := logRoles(g.mem.log)
	g.mem.mu.Unlock()
	g.membersMu.Lock()
	names := make(map[peer.ID]string, len(g.members))
	for k, v := range g.members {
		names[k] = v
	}
	g.membersMu.Unlock()
	return &pollReader{st: n.st, g: g.rec.ID, self: n.self, role: role, names: names, acts: &n.Local.pollActs}
}

// pollAct is one decoded message naming a poll.
type pollAct struct {
	kind int
	act  polls.Action
	key  []byte // the author's public key
}

const (
	pollActOther = iota // a reply quoting the poll, a reaction
	pollActVote
	pollActClose
	pollActDelete
)

func decodePollAct(raw []byte) (pollAct, error) {
	a, err := envelope.DecodeSigned(raw)
	if err != nil {
		return pollAct{}, err
	}
	return pollActFrom(a), nil
}

func pollActFrom(a *envelope.Verified) pollAct {
	pa := pollAct{act: polls.Action{ID: a.ID, Lamport: a.Msg.Lamport, Author: a.Author.String()}, key: a.Msg.Author}
	switch b := a.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Vote:
		pa.kind = pollActVote
		pa.act.Choices = make([]int, len(b.Vote.Choices))
		for i, c := range b.Vote.Choices {
			pa.act.Choices[i] = int(c)
		}
	case *wirepb.Body_PollClose:
		pa.kind, pa.act.Close = pollActClose, true
	case *wirepb.Body_Delete:
		pa.kind = pollActDelete
	}
	return pa
}

// pollActs caches decoded poll actions by message id, the tallies of the
// polls read last (polltally.go) and decoded reactions and edits
// (richacts.go).
type pollActs struct {
	decoded actCache[pollAct]
	tallies pollTallies
	rich    actCache[richAct] // decoded reactions and edits (richacts.go)
}

func (c *pollActs) get(g store.GroupID, id store.MessageID) (pollAct, bool) {
	if c == nil {
		return pollAct{}, false
	}
	return c.decoded.get(g, id)
}

func (c *pollActs) put(g store.GroupID, id store.MessageID, pa pollAct) {
	if c != nil {
		c.decoded.put(g, id, pa)
	}
}

// actCache keeps decoded actions by message id. A stored message's bytes
// never change (an erased one is skipped before the cache is asked), so
// entries need no invalidation; the cache is emptied when it grows past
// pollActsCap.
type actCache[T any] struct {
	mu sync.Mutex
	m  map[pollActKey]T
}

type pollActKey struct {
	g  store.GroupID
	id store.MessageID
}

const pollActsCap = 1 << 16

func (c *actCache[T]) get(g store.GroupID, id store.MessageID) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[pollActKey{g, id}]
	return v, ok
}

func (c *actCache[T]) put(g store.GroupID, id store.MessageID, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= pollActsCap {
		c.m = map[pollActKey]T{}
	}
	c.m[pollActKey{g, id}] = v
}
