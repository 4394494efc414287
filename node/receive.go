package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// A received message's path: validate (every check, on the pubsub
// validator's goroutines) -> receive (batches what validated) -> commit
// (durable store, then members and events). Sync's path joins at ingest,
// which runs the causality check that validate runs for gossip.

// received is what validate decodes an envelope to: the bundle's messages
// that are new to us, and whether any names a parent we lack.
type received struct {
	vs  []*envelope.Verified
	gap bool
}

// validate is the pubsub validator: every message on a group topic passes
// here before it is delivered or forwarded (our own publishes trivially).
// A bundle is accepted only whole: an honest member never bundles a message
// that fails a check, so one bad message rejects it (never forwarded, the
// sender scored down).
func (n *Node) validate(g *group, from peer.ID, data []byte) (p2p.Verdict, any) {
	if from == n.self {
		// Our own publish: only sendBatch publishes on our topic handles,
		// and what it publishes it has just signed and stored. Checking it
		// again would spend a signature verification per message sent.
		return p2p.Accept, nil
	}
	if n.dmDropBlocked(g) {
		return p2p.Ignore, nil
	}
	env, err := envelope.PeekEnvelope(data)
	if err != nil {
		return n.reject(from, err)
	}
	legacy := g.mem.legacy()
	var raws [][]byte
	switch {
	case legacy:
		raws, err = envelope.OpenEnvelope(&g.keys, data)
	case env.Version != envelope.EnvelopeVersion:
		err = fmt.Errorf("%w: envelope version %d in a membership group", ErrVersion, env.Version)
	default:
		var k *envelope.EpochKey
		if k = g.mem.key(env.Epoch); k == nil {
			// An epoch we cannot open (yet): its op is on its way, or we
			// are no member of it. No penalty; sync brings what we may read.
			n.drops.count(ErrUnknownEpoch)
			n.sync.Request(from, g.sync)
			return p2p.Ignore, nil
		}
		raws, err = envelope.OpenEpochEnvelope(k, env)
	}
	if err != nil {
		return n.reject(from, err)
	}
	vs, err := n.verifyBundle(g, raws)
	if err != nil {
		return n.reject(from, err)
	}
	fresh := make([]*envelope.Verified, 0, len(vs))
	for _, v := range vs {
		if !legacy && string(v.Msg.Epoch) != string(env.Epoch) {
			return n.reject(from, fmt.Errorf("%w: message epoch differs from its envelope's", ErrBadField))
		}
		has, err := n.st.Has(g.rec.ID, v.ID)
		switch {
		case err != nil:
			n.log.Warn("validator store lookup", "err", err)
			return p2p.Ignore, nil
		case has:
			n.drops.count(ErrDuplicate)
		default:
			fresh = append(fresh, v)
		}
	}
	if len(fresh) == 0 {
		return p2p.Ignore, nil // an honest peer may re-forward: no penalty
	}
	// Causality, clock and timestamp bounds, equivocation (envelope.CheckBounds):
	// breaking one is a member's misbehaviour, not noise. A clock merely far
	// ahead of a receiver missing parents is deferred: sync brings it again.
	chk := envelope.CheckBounds(fresh, g.sync.View(n.st, n.lamportOf(g), n.cfg.now().UnixMilli()))
	if !chk.Deferred() {
		return n.reject(from, chk.Misbehaviour())
	}
	for _, r := range chk.Refused {
		n.drops.count(r.Err)
		n.sync.Request(from, g.sync)
	}
	kept, gap := chk.Kept, chk.Gap
	if len(kept) == 0 {
		return p2p.Ignore, nil
	}
	if !legacy {
		ok, unknown, err := n.admit(g, kept)
		if err != nil {
			return n.reject(from, err)
		}
		if len(unknown) > 0 || len(ok) < len(kept) {
			n.sync.Request(from, g.sync)
			return p2p.Ignore, nil
		}
		if verdict, ok := n.pollVerdict(g, from, kept); !ok {
			return verdict, nil
		}
	}
	return p2p.Accept, &received{vs: kept, gap: gap}
}

// verifyBundle checks every message of an envelope, failing on the first
// that does not check out. A bundle of several batches (a bulk sender's,
// send.go) is checked as a page: one signature for each author's run.
func (n *Node) verifyBundle(g *group, raws [][]byte) ([]*envelope.Verified, error) {
	if len(raws) == 1 {
		v, err := n.verifier.Signed(g.rec.ID, raws[0])
		if err != nil {
			return nil, err
		}
		return []*envelope.Verified{v}, nil
	}
	vs, errs := n.verifier.Many(g.rec.ID, raws)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return vs, nil
}

func (n *Node) reject(from peer.ID, err error) (p2p.Verdict, any) {
	n.drops.count(err)
	n.log.Debug("dropped pubsub message", "from", from, "reason", err)
	return p2p.Reject, nil
}

func (n *Node) lamportOf(g *group) envelope.LamportOf {
	return func(id store.MessageID) (uint64, bool, error) {
		lam, held, err := n.st.Lamport(g.rec.ID, id)
		if err != nil {
			n.log.Warn("parent lookup", "err", err)
		}
		return lam, held, err
	}
}

// receive stores validated messages from the topic, batching whatever has
// queued into one durable commit.
func (n *Node) receive(g *group) {
	defer n.wg.Done()
	in := g.topic.Messages()
	for {
		first, ok := <-in
		if !ok {
			return
		}
		batch := []p2p.Message{first}
	drain:
		for len(batch) < 512 {
			select {
			case m, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		var vs []*envelope.Verified
		var from peer.ID
		gap := false
		for _, m := range batch {
			r, ok := m.Decoded.(*received)
			if !ok || m.Local {
				continue
			}
			vs = append(vs, r.vs...)
			gap = gap || r.gap
			from = m.From
		}
		if len(vs) == 0 {
			continue
		}
		if _, err := n.commit(g, vs, from, gap); errors.Is(err, ErrDiskFull) {
			// Counted, not logged per message (the store logs the full
			// disk once); sync brings them again once space is freed.
			for range vs {
				n.drops.count(err)
			}
		} else if err != nil {
			n.log.Error("store received messages", "err", err)
		}
	}
}

// ingestSynced is sync's Ingest: messages pulled from a peer.
func (n *Node) ingestSynced(sg *syncproto.Group, vs []*envelope.Verified) error {
	g := n.groupByID(sg.ID)
	if g == nil {
		return ErrGroupNotFound
	}
	if n.dmDropBlocked(g) {
		return nil
	}
	_, err := n.ingest(g, vs, "")
	return err
}

// ingest checks causality (what validate does for gossip) and commits what
// passes. from is "" for history sync. It returns how many were new.
func (n *Node) ingest(g *group, vs []*envelope.Verified, from peer.ID) (int, error) {
	view := g.sync.View(n.st, n.lamportOf(g), n.cfg.now().UnixMilli())
	view.Conflict = nil // commit's Admit checks seqs: once per message is enough here
	chk := envelope.CheckBounds(vs, view)
	for _, r := range chk.Refused {
		n.drops.count(r.Err)
	}
	kept, gap := chk.Kept, chk.Gap
	if !g.mem.legacy() {
		kept = n.admitEach(g, kept)
	}
	if len(kept) == 0 {
		return 0, nil
	}
	return n.commit(g, kept, from, gap)
}

// commit durably stores verified messages, then updates members, tells
// subscribers and asks for any parents we lack. It returns how many were new.
func (n *Node) commit(g *group, vs []*envelope.Verified, from peer.ID, gap bool) (int, error) {
	// Equivocation: the first message stored at an author's seq wins.
	vs = n.refuseRich(g, vs, from)
	vs, release := g.sync.Admit(n.st, vs, n.drops.count)
	defer release()
	msgs := make([]store.Message, len(vs))
	for i, v := range vs {
		msgs[i] = v.StoreMessageIndexLater(g.rec.ID) // postings written after (indexlater.go)
	}
	inserted, err := n.st.AppendReceived(n.ctx, msgs...)
	if err != nil {
		return 0, err
	}
	if from == "" {
		n.idx.synced(time.Now())
	} else {
		n.idx.received()
	}
	added := 0
	listening := n.events.active()
	for i, v := range vs {
		if !inserted[i] {
			continue
		}
		added++
		n.noteMember(g, v)
		n.noteFile(g, v)
		n.afterStore(g, v)
		if n.noteStored(g, v) {
			continue // a receipt: state, not a message to show
		}
		if listening && !hiddenBody(v) {
			n.events.publish(Event{Type: EventMessage, Group: hex.EncodeToString(g.rec.ID[:]), Message: n.toMessage(g, v), Backfill: from == ""})
		}
	}
	n.pollUpdates(g, vs, inserted)
	n.counters.receivedN(len(vs), added, from == "")
	if gap && from != "" && from != n.self {
		n.sync.RequestGap(from, g.sync)
	}
	return added, nil
}

func (n *Node) toMessage(g *group, v *envelope.Verified) *Message {
	m := toMessage(g.rec.ID, v)
	g.membersMu.Lock()
	m.AuthorName = g.members[v.Author]
	g.membersMu.Unlock()
	n.Local.decorate(g.rec.ID, &m, nil)
	n.attachPoll(g, v, &m)
	return &m
}

// noteMember records the author as a member, with its announced name.
func (n *Node) noteMember(g *group, v *envelope.Verified) {
	name, isJoin := "", false
	if j, ok := v.Msg.Body.GetKind().(*wirepb.Body_Join); ok {
		name, isJoin = j.Join.DisplayName, true
	}
	g.membersMu.Lock()
	old, known := g.members[v.Author]
	if known && (!isJoin || old == name) {
		g.membersMu.Unlock()
		return
	}
	if !isJoin {
		name = old
	}
	g.members[v.Author] = name
	g.membersMu.Unlock()
	err := n.st.PutMember(g.rec.ID, store.Member{Author: []byte(v.Author), DisplayName: name, FirstSeenMs: n.cfg.now().UnixMilli()})
	if err != nil {
		n.log.Warn("record member", "err", err)
	}
}

// Membership drop reasons (counted in Status.Drops).
var (
	// ErrUnknownEpoch: an envelope of an epoch we hold no key for (ignored).
	ErrUnknownEpoch = errors.New("unknown-epoch")
	// ErrNotMemberNow: the author was removed or left (rejected).
	ErrNotMemberNow = errors.New("not-member")
	// ErrUnknownAuthor: an author the log has not admitted yet (ignored).
	ErrUnknownAuthor = errors.New("unknown-author")
)

// admit applies membership to a bundle of verified, new messages, in two
// passes: first the ops they carry go into the log (so a message may rely
// on an op in the same batch), then every other message's author must be a
// member at the message's epoch. err is set (reject the bundle) if an op is
// invalid or an author is a known non-member; unknown lists the messages of
// authors the log has never seen (ignore: their join op is on its way).
func (n *Node) admit(g *group, vs []*envelope.Verified) (ok, unknown []*envelope.Verified, err error) {
	for _, v := range vs {
		if mb, isOp := v.Msg.Body.GetKind().(*wirepb.Body_Membership); isOp {
			if err := n.applyOp(g, v.Msg.Author, mb.Membership.Op); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, v := range vs {
		if _, isOp := v.Msg.Body.GetKind().(*wirepb.Body_Membership); isOp {
			ok = append(ok, v) // judged by the log, whoever sent it
			continue
		}
		switch g.mem.judge(v.Msg.Author, v.Msg.Epoch) {
		case memberOK:
			ok = append(ok, v)
		case memberUnknown:
			n.drops.count(ErrUnknownAuthor)
			unknown = append(unknown, v)
		default:
			return nil, nil, ErrNotMemberNow
		}
	}
	return ok, unknown, nil
}

// admitEach is admit for synced messages: each is kept or dropped alone.
func (n *Node) admitEach(g *group, vs []*envelope.Verified) []*envelope.Verified {
	var kept []*envelope.Verified
	for _, v := range vs {
		if mb, isOp := v.Msg.Body.GetKind().(*wirepb.Body_Membership); isOp {
			if err := n.applyOp(g, v.Msg.Author, mb.Membership.Op); err != nil {
				n.drops.count(err)
				continue
			}
			kept = append(kept, v)
		}
	}
	for _, v := range vs {
		if _, isOp := v.Msg.Body.GetKind().(*wirepb.Body_Membership); isOp {
			continue
		}
		switch g.mem.judge(v.Msg.Author, v.Msg.Epoch) {
		case memberOK:
			kept = append(kept, v)
		case memberUnknown:
			n.drops.count(ErrUnknownAuthor)
		default:
			n.drops.count(ErrNotMemberNow)
		}
	}
	return kept
}
