package node

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// A sent message's path: Send -> publish (queue to the group's sender) ->
// sender (collects a batch, lingering when sending in bulk) -> sendBatch
// (chain, sign, store durably, answer) -> stage (seal and publish, or hold
// for a moment when sending in bulk). The peer's side is in receive.go.

const (
	sendQueue = 1024
	sendBatch = 256
)

type sendReq struct {
	ctx  context.Context
	body *wirepb.Body
	// epoch, when set, is the epoch to send under instead of the current
	// one (membership ops: see publishOp); such a request is sent alone.
	epoch *membership.OpID
	done  chan sendResult
}

type sendResult struct {
	msg *Message
	err error
}

// Send posts a text message to a group. It returns once the message is
// durably stored; delivery to others follows (gossip now, sync later).
func (n *Node) Send(ctx context.Context, ref, text string) (Message, error) {
	return n.SendWith(ctx, ref, text, SendOptions{})
}

func (n *Node) publish(ctx context.Context, g *group, body *wirepb.Body) (*Message, error) {
	return n.publishIn(ctx, g, body, nil)
}

func (n *Node) publishIn(ctx context.Context, g *group, body *wirepb.Body, epoch *membership.OpID) (*Message, error) {
	if err := n.dmSendable(g); err != nil {
		return nil, err
	}
	req := &sendReq{ctx: ctx, body: body, epoch: epoch, done: make(chan sendResult, 1)}
	select {
	case g.sendQ <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
	select {
	case r := <-req.done:
		return r.msg, r.err
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
}

// sender writes the group's outgoing messages: whatever is queued becomes
// one chain (each message the parent of the next) stored with one durable
// commit, then published in order. A failed commit fails the whole batch and
// consumes no seq, so our per-author sequence never has a gap.
//
// A batch costs one signature, one fsync and one envelope whatever its
// size, and each member checks one signature and opens one envelope for it
// (envelope.SignBodies, Bundles). So when sends arrive on their own while a
// batch is being stored and published (independent senders: a bot, a
// bridge, a burst of reactions), and that batch started less than the send
// linger ago, the next batch waits until the linger has passed since then,
// gathering what arrives meanwhile. A sender that waits for each answer (a
// person, a script sending one message after another) has nothing queued
// while its message is stored, so it never waits; neither does a message
// sent with nothing before it.
//
// Such a sender is answered at once but its batches are published together
// (stage): when a batch starts within the linger of the one before, what it
// stored is held back from publishing until the linger has passed since
// the first held batch, and sealed with what follows in one envelope. Each
// member then opens one envelope and, since each batch names the one before
// as prev, checks one signature for the whole run (envelope chain.go).
func (n *Node) sender(g *group) {
	defer n.wg.Done()
	var next *sendReq // taken from the queue but belonging to the next batch
	var lastStart time.Time
	for {
		first := next
		next = nil
		if first == nil {
			var flush <-chan time.Time
			var t *time.Timer
			if len(g.held.raws) > 0 {
				t = time.NewTimer(time.Until(g.held.until))
				flush = t.C
			}
			select {
			case first = <-g.sendQ:
			case <-flush:
			case <-n.ctx.Done():
				return // held batches are stored: sync delivers them
			}
			if t != nil {
				t.Stop()
			}
			if first == nil {
				n.flushHeld(g)
				continue
			}
		}
		batch := []*sendReq{first}
		l := n.cfg.sendLinger
		hold := l > 0 && time.Since(lastStart) < l
		if first.epoch == nil { // a batch has one epoch: such a request goes alone
			var until time.Time
			if hold && g.queuedDuring {
				until = lastStart.Add(l)
			}
			batch, next = n.gather(g, batch, until)
			if n.ctx.Err() != nil {
				return // closed while gathering: each caller gets ErrClosed
			}
		} else {
			hold = false // a membership op goes out at once, after what is held
		}
		lastStart = time.Now()
		n.sendBatch(g, batch, hold)
	}
}

// heldPublish is stored messages waiting to be published together (stage).
type heldPublish struct {
	ekey  *envelope.EpochKey
	raws  [][]byte
	until time.Time // publish by then
}

// stage publishes raws (a stored batch, sealed under ekey) after whatever
// is held, or, when hold is set, holds them with it until the send linger
// has passed since the first held batch. What is held goes out at once
// when the epoch changes or a second envelope's worth is held.
func (n *Node) stage(g *group, ekey *envelope.EpochKey, raws [][]byte, hold bool) {
	h := &g.held
	if len(h.raws) > 0 && h.ekey.Epoch != ekey.Epoch {
		n.flushHeld(g)
	}
	if len(h.raws) == 0 {
		h.ekey, h.until = ekey, time.Now().Add(n.cfg.sendLinger)
	}
	h.raws = append(h.raws, raws...)
	if !hold || !time.Now().Before(h.until) || len(envelope.Bundles(h.raws)) > 1 {
		n.flushHeld(g)
	}
}

// flushHeld seals and publishes what is held, in order.
func (n *Node) flushHeld(g *group) {
	h := &g.held
	for _, b := range envelope.Bundles(h.raws) {
		env, err := envelope.SealEpochEnvelope(h.ekey, b...)
		if err == nil {
			err = g.topic.Publish(n.ctx, env)
		}
		if err != nil {
			// Stored already: sync delivers it when peers are reachable.
			n.log.Warn("publish failed; messages will be delivered by sync", "count", len(b), "err", err)
		}
	}
	*h = heldPublish{}
}

// gather adds to batch the requests already queued and, until the time
// until (zero: not at all), those that arrive, up to sendBatch. It returns
// early with a request that must go in a batch of its own (an epoch set).
func (n *Node) gather(g *group, batch []*sendReq, until time.Time) ([]*sendReq, *sendReq) {
	var wait <-chan time.Time
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		wait = t.C
	}
	for len(batch) < sendBatch {
		var r *sendReq
		select {
		case r = <-g.sendQ:
		default:
			if wait == nil {
				return batch, nil
			}
			select {
			case r = <-g.sendQ:
			case <-wait:
				return batch, nil
			case <-n.ctx.Done():
				return batch, nil
			}
		}
		if r.epoch != nil {
			return batch, r
		}
		batch = append(batch, r)
	}
	return batch, nil
}

// sendBatch chains, signs and durably stores batch, stages it for
// publishing (held when hold is set) and answers its senders.
func (n *Node) sendBatch(g *group, batch []*sendReq, hold bool) {
	g.queuedDuring = false
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- sendResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	fail := func(err error) {
		for _, r := range live {
			r.done <- sendResult{err: err}
		}
	}
	if g.mem.legacy() {
		fail(fmt.Errorf("%w: %s", ErrLegacyGroup, g.rec.Name))
		return
	}
	ekey, err := n.sendEpoch(g, live[0].epoch)
	if err != nil {
		fail(err)
		return
	}
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	// Heads first, then the clock: every head's Lamport is then <= the max read.
	heads, err := n.st.Heads(g.rec.ID, MaxParents)
	if err != nil {
		fail(err)
		return
	}
	stats, err := n.st.GroupStats(g.rec.ID)
	if err != nil {
		fail(err)
		return
	}
	lamport := max(stats.MaxLamport, g.minLamport)
	parents := make([][]byte, 0, len(heads))
	for _, h := range heads {
		// Every member refuses a message whose clock is not above each
		// parent's: take each head's own clock too, not only the counter.
		lam, held, err := n.st.Lamport(g.rec.ID, h)
		if err != nil {
			fail(err)
			return
		}
		if held {
			lamport = max(lamport, lam)
		}
		parents = append(parents, append([]byte(nil), h[:]...))
	}
	prev, err := n.ownPrev(g)
	if err != nil {
		fail(err)
		return
	}
	// A chain: each message's parent is the one before it, which needs its
	// id, which is known only once the message is serialised. Each also
	// names our previous message as prev (one signature vouches for a run).
	ms := make([]*wirepb.Message, len(live))
	bodies := make([][]byte, len(live))
	ids := make([]store.MessageID, len(live))
	now := n.cfg.now().UnixMilli()
	for i, r := range live {
		lamport++
		ms[i] = &wirepb.Message{
			Version: WireVersion, GroupId: g.rec.ID[:], Author: n.pub, Seq: g.nextSeq + uint64(i),
			Lamport: lamport, TimestampMs: now, Parents: parents, Body: r.body, Epoch: ekey.Epoch[:], Prev: prev,
		}
		if bodies[i], err = envelope.MarshalMessage(ms[i]); err != nil {
			fail(err)
			return
		}
		ids[i] = envelope.MessageID(bodies[i])
		parents = [][]byte{ids[i][:]}
		prev = ids[i][:]
	}
	vs, err := envelope.SignBodies(n.key, ms, bodies, ids)
	if err != nil {
		fail(err)
		return
	}
	msgs := make([]store.Message, len(vs))
	for i, v := range vs {
		msgs[i] = v.StoreMessage(g.rec.ID)
	}
	if _, err := n.st.Append(n.ctx, msgs...); err != nil {
		fail(fmt.Errorf("store message: %w", err))
		return
	}
	g.nextSeq += uint64(len(live))
	g.last.seq, g.last.id = g.nextSeq-1, ids[len(ids)-1]
	n.counters.sentN(len(live))
	raws := make([][]byte, len(vs))
	for i, v := range vs {
		raws[i] = v.Raw
	}
	n.stage(g, ekey, raws, hold)
	// Before anyone is answered: what is queued now came on its own.
	if hook := n.beforeAnswer.Load(); hook != nil {
		(*hook)(g)
	}
	g.queuedDuring = len(g.sendQ) > 0
	// Tallies first: a sender that reads its poll as soon as it is answered
	// (the vote API's reply) must see its own vote in it.
	n.pollUpdates(g, vs, nil)
	for i, r := range live {
		v := vs[i]
		n.noteMember(g, v)
		n.noteFile(g, v)
		n.afterStore(g, v)
		out := n.toMessage(g, v)
		if !hiddenBody(v) {
			n.events.publish(Event{Type: EventMessage, Group: out.Group, Message: out})
		}
		r.done <- sendResult{msg: out}
	}
}

// ownPrev is the id of our own message at seq nextSeq-1, the prev of the
// next message (nil at seq 1, or if we do not hold it). Under sendMu.
func (n *Node) ownPrev(g *group) ([]byte, error) {
	seq := g.nextSeq - 1
	if seq == 0 {
		return nil, nil
	}
	if g.last.seq != seq {
		id, ok, err := n.st.AtSeq(g.rec.ID, []byte(n.self), seq)
		if err != nil || !ok {
			return nil, err
		}
		g.last.seq, g.last.id = seq, id
	}
	return append([]byte(nil), g.last.id[:]...), nil
}
