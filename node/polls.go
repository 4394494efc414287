package node

// Polls (docs/polls.md): a poll is a message (its id is the poll id); votes
// and closes are messages naming it. Every node folds the same set of them
// into the same tally (internal/polls).

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/polls"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// Poll bounds.
const (
	MinPollOptions   = envelope.MinPollOptions
	MaxPollOptions   = envelope.MaxPollOptions
	MaxPollOptionLen = envelope.MaxPollOptionLen
	// MinPollPrefix is the shortest poll id prefix accepted (hex digits).
	MinPollPrefix = 8
)

var (
	// ErrNoSuchPoll: a poll id matches no poll of the group.
	ErrNoSuchPoll = errors.New("no such poll")
	// ErrAmbiguousPoll: a poll id prefix matches several polls.
	ErrAmbiguousPoll = errors.New("ambiguous poll id")
	// ErrPollClosed: the poll takes no more votes (or is closed already).
	ErrPollClosed = errors.New("poll closed")
	// ErrPollDeleted: the poll was deleted.
	ErrPollDeleted = errors.New("poll deleted")
	// Drop reasons (counted as bad-field): a vote invalid for its poll, a
	// close by neither the poll's creator nor an admin.
	errBadVote  = fmt.Errorf("%w: vote not valid for its poll", ErrBadField)
	errBadClose = fmt.Errorf("%w: poll close by neither its creator nor an admin", ErrBadField)
)

// PollInfo is a poll with its live tally. In an anonymous poll Voters is
// never filled: counts only (MyChoices is our own vote).
type PollInfo struct {
	ID          string       `json:"id"`
	Group       string       `json:"group"`
	Question    string       `json:"question"`
	Options     []PollOption `json:"options"`
	Multi       bool         `json:"multi"`
	Anonymous   bool         `json:"anonymous"`
	Closed      bool         `json:"closed"`
	ClosedBy    string       `json:"closed_by,omitempty"` // peer id
	Creator     string       `json:"creator"`             // peer id
	TotalVoters int          `json:"total_voters"`
	MyChoices   []int        `json:"my_choices"` // 0-based option indexes
	Deleted     bool         `json:"deleted,omitempty"`
}

// PollOption is one option with its count.
type PollOption struct {
	Text   string      `json:"text"`
	Count  int         `json:"count"`
	Voters []PollVoter `json:"voters,omitempty"` // omitted when anonymous
	Mine   bool        `json:"mine"`
}

// PollVoter is a member who chose an option (named polls only).
type PollVoter struct {
	ID   string `json:"id"` // peer id
	Name string `json:"name,omitempty"`
}

// CreatePoll opens a poll in a group; the returned message's id is the
// poll id and its Poll the (empty) tally.
func (n *Node) CreatePoll(ctx context.Context, ref, question string, options []string, multi, anonymous bool) (Message, error) {
	question = strings.TrimSpace(question)
	if question == "" || len(question) > MaxTextLen || !utf8.ValidString(question) {
		return Message{}, fmt.Errorf("%w: a poll question is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxTextLen)
	}
	if len(options) < MinPollOptions || len(options) > MaxPollOptions {
		return Message{}, fmt.Errorf("%w: a poll has %d to %d options", ErrInvalidInput, MinPollOptions, MaxPollOptions)
	}
	opts := make([]string, len(options))
	seen := map[string]bool{}
	for i, o := range options {
		o = strings.TrimSpace(o)
		if o == "" || len(o) > MaxPollOptionLen || !utf8.ValidString(o) {
			return Message{}, fmt.Errorf("%w: a poll option is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxPollOptionLen)
		}
		if seen[o] {
			return Message{}, fmt.Errorf("%w: option %q given twice", ErrInvalidInput, o)
		}
		seen[o], opts[i] = true, o
	}
	g, err := n.group(ref)
	if err != nil {
		return Message{}, err
	}
	body := &wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: question, Options: opts, Multi: multi, Anonymous: anonymous}}}
	m, err := n.publish(ctx, g, body)
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

// Vote sets our whole vote in a poll: choices are 0-based option indexes
// (exactly one unless the poll is multiple choice; none withdraws).
func (n *Node) Vote(ctx context.Context, ref, pollID string, choices []int) error {
	g, v, info, err := n.openPoll(ref, pollID)
	if err != nil {
		return err
	}
	switch {
	case info.Deleted:
		return ErrPollDeleted
	case info.Closed:
		return fmt.Errorf("%w: %s", ErrPollClosed, info.Question)
	}
	if !polls.ValidChoices(polls.Poll{Options: len(info.Options), Multi: info.Multi}, choices) {
		if len(choices) > 1 && !info.Multi {
			return fmt.Errorf("%w: the poll takes one choice", ErrInvalidInput)
		}
		return fmt.Errorf("%w: choices are distinct options 1 to %d", ErrInvalidInput, len(info.Options))
	}
	cs := make([]uint32, len(choices))
	for i, c := range choices {
		cs[i] = uint32(c)
	}
	_, err = n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Vote{Vote: &wirepb.Vote{Poll: v.ID[:], Choices: cs}}})
	return err
}

// ClosePoll ends a poll: its creator or an admin or the owner may.
func (n *Node) ClosePoll(ctx context.Context, ref, pollID string) error {
	g, v, info, err := n.openPoll(ref, pollID)
	if err != nil {
		return err
	}
	switch {
	case info.Deleted:
		return ErrPollDeleted
	case info.Closed:
		return fmt.Errorf("%w already: %s", ErrPollClosed, info.Question)
	}
	if v.Author != n.self && !n.pollReader(g).mayModerate(n.pub) {
		return fmt.Errorf("%w: only the poll's creator or an admin can close it", ErrNotAuthorized)
	}
	_, err = n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_PollClose{PollClose: &wirepb.PollClose{Poll: v.ID[:]}}})
	return err
}

// Poll reads a poll's live tally; pollID is the full id or a unique prefix
// of at least MinPollPrefix hex digits.
func (n *Node) Poll(ref, pollID string) (PollInfo, error) {
	_, _, info, err := n.openPoll(ref, pollID)
	return info, err
}

func (n *Node) openPoll(ref, pollID string) (*group, *envelope.Verified, PollInfo, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, nil, PollInfo{}, err
	}
	r := n.pollReader(g)
	v, err := r.find(pollID)
	if err != nil {
		return nil, nil, PollInfo{}, err
	}
	info, _, err := r.load(v)
	return g, v, info, err
}

// Poll reads a poll's tally from the store (no running node needed).
func (l *Local) Poll(ref, pollID string) (PollInfo, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return PollInfo{}, err
	}
	r := l.pollReader(g.ID)
	v, err := r.find(pollID)
	if err != nil {
		return PollInfo{}, err
	}
	info, _, err := r.load(v)
	return info, err
}

// attachPolls fills Message.Poll for the polls among ms (history pages).
func (l *Local) attachPolls(g store.GroupID, ms []Message) {
	var r *pollReader
	for i := range ms {
		if ms[i].Kind != "poll" {
			continue
		}
		if r == nil {
			r = l.pollReader(g)
		}
		ms[i].Poll = r.attach(ms[i].ID)
	}
}

// attach is the tally of the poll with full hex id, nil if unreadable.
func (r *pollReader) attach(id string) *PollInfo {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != store.MessageIDLen {
		return nil
	}
	var mid store.MessageID
	copy(mid[:], raw)
	s, err := r.st.Get(r.g, mid)
	if err != nil {
		return nil
	}
	v, err := envelope.DecodeSigned(s.Raw)
	if err != nil {
		return nil
	}
	info, _, err := r.load(v)
	if err != nil {
		return nil
	}
	return &info
}

// attachPoll fills m.Poll when v is a poll (events, sends).
func (n *Node) attachPoll(g *group, v *envelope.Verified, m *Message) {
	if v.Msg.Body.GetPoll() == nil {
		return
	}
	if info, _, err := n.pollReader(g).load(v); err == nil {
		m.Poll = &info
	}
}

// pollUpdates applies the stored messages vs (those inserted; nil: all)
// to the tallies held, then publishes an EventUpdate with the poll's
// message for each poll they voted in, closed or deleted: once per poll
// per batch.
func (n *Node) pollUpdates(g *group, vs []*envelope.Verified, inserted []bool) {
	for i, v := range vs {
		if inserted == nil || inserted[i] {
			n.Local.pollActs.tallies.apply(g.rec.ID, v)
		}
	}
	if !n.events.active() {
		return
	}
	var done map[store.MessageID]bool
	for i, v := range vs {
		if inserted != nil && !inserted[i] {
			continue
		}
		switch v.Msg.Body.GetKind().(type) {
		case *wirepb.Body_Vote, *wirepb.Body_PollClose, *wirepb.Body_Delete:
		default:
			continue
		}
		ts := envelope.Targets(v.Msg.Body)
		if len(ts) != 1 || done[ts[0]] {
			continue
		}
		if done == nil {
			done = map[store.MessageID]bool{}
		}
		done[ts[0]] = true
		s, err := n.st.Get(g.rec.ID, ts[0])
		if err != nil {
			continue // the poll is not held (yet): its arrival shows the tally
		}
		pv, err := envelope.DecodeSigned(s.Raw)
		if err != nil || pv.Msg.Body.GetPoll() == nil {
			continue
		}
		m := n.toMessage(g, pv)
		n.events.publish(Event{Type: EventUpdate, Group: m.Group, Message: m})
	}
}

// checkPollActions is the validator's poll check on a bundle of admitted
// messages: a vote whose poll is held must be valid for it (else the bundle
// is rejected: an honest member never sends one); a close whose poll is
// held must come from its creator or an admin (else the bundle is ignored,
// not penalised: our view of roles may lag; sync brings it again and the
// fold decides).
func (n *Node) checkPollActions(g *group, vs []*envelope.Verified) (p2p.Verdict, error) {
	var r *pollReader
	for _, v := range vs {
		var target []byte
		isClose := false
		switch b := v.Msg.Body.GetKind().(type) {
		case *wirepb.Body_Vote:
			target = b.Vote.Poll
		case *wirepb.Body_PollClose:
			target, isClose = b.PollClose.Poll, true
		default:
			continue
		}
		var id store.MessageID
		copy(id[:], target)
		s, err := n.st.Get(g.rec.ID, id)
		if err != nil {
			continue // not held (or erased): the fold decides once it is
		}
		pv, err := envelope.DecodeSigned(s.Raw)
		if err != nil {
			continue
		}
		p := pv.Msg.Body.GetPoll()
		if p == nil {
			if isClose {
				return p2p.Reject, errBadClose
			}
			return p2p.Reject, errBadVote
		}
		if !isClose {
			cs := make([]int, len(v.Msg.Body.GetVote().Choices))
			for i, c := range v.Msg.Body.GetVote().Choices {
				cs[i] = int(c)
			}
			if !polls.ValidChoices(polls.Poll{Options: len(p.Options), Multi: p.Multi}, cs) {
				return p2p.Reject, errBadVote
			}
			continue
		}
		if r == nil {
			r = n.pollReader(g)
		}
		if pv.Author != v.Author && !r.mayModerate(v.Msg.Author) {
			return p2p.Ignore, errBadClose
		}
	}
	return p2p.Accept, nil
}

// pollVerdict runs checkPollActions for the validator; ok false means
// return verdict (the drop is counted).
func (n *Node) pollVerdict(g *group, from peer.ID, vs []*envelope.Verified) (verdict p2p.Verdict, ok bool) {
	verdict, err := n.checkPollActions(g, vs)
	switch verdict {
	case p2p.Accept:
		return verdict, true
	case p2p.Reject:
		verdict, _ = n.reject(from, err)
		return verdict, false
	}
	n.drops.count(err)
	n.sync.Request(from, g.sync)
	return verdict, false
}
