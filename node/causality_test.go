package node

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// A message whose clock is not above a parent's the receiver holds is
// rejected by the pubsub validator itself: the relaying node B refuses it,
// so it never reaches C, which only B connects to. A valid message sent the
// same way right after does reach C, so the path would have carried it.
func TestCausalityRejectedAtValidation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	a := newTestNode(t, "alice", "", WithSyncInterval(0), WithRendezvousInterval(0))
	b := newTestNode(t, "bob", "", WithSyncInterval(0), WithRendezvousInterval(0))
	c := newTestNode(t, "carol", "", WithSyncInterval(0), WithRendezvousInterval(0))
	gi, err := a.CreateGroup(ctx, "Chain", false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := a.Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	makeAdmin(t, a, b, gi.ID) // inviting takes an admin
	if code, err = b.Invite(gi.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	ga, _ := a.group(gi.ID)
	gb, _ := b.group(gi.ID)
	gc, _ := c.group(gi.ID)
	// Periodic sync is off (so only gossip can carry the valid message
	// below): nudge pulls until every node holds the three joins.
	for _, n := range []*testNode{a, b, c} {
		g, _ := n.group(gi.ID)
		waitFor(t, n.cfg.displayName+" to hold the three joins", func() bool {
			if visible(t, n, gi.ID) == 3 {
				return true
			}
			for _, p := range g.topic.ListPeers() {
				n.sync.Request(p, g.sync)
			}
			return false
		})
	}
	waitFor(t, "b to see a and c on the topic", func() bool {
		ps := gb.topic.ListPeers()
		return slices.Contains(ps, a.ID()) && slices.Contains(ps, c.ID())
	})
	if a.Host().IsConnected(c.ID()) {
		t.Fatal("a and c are connected: the test needs b in between")
	}

	heads, err := a.st.Heads(ga.rec.ID, MaxParents)
	if err != nil || len(heads) == 0 {
		t.Fatalf("heads %v %v", heads, err)
	}
	stats, err := a.st.GroupStats(ga.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	parents := make([][]byte, len(heads))
	for i, h := range heads {
		parents[i] = h[:]
	}
	// Signed by a, a member, and well formed: only the clock is wrong.
	bad := withEpoch(ga, vtText(t, ga.rec.ID, a.key, 1000, 1, "back in time"))
	bad.Parents = parents
	badRaw := vtSign(t, a.key, bad)
	badV, err := verifySigned(ga.rec.ID, badRaw)
	if err != nil {
		t.Fatal(err)
	}

	// The verdict itself, on b: reject (p2p never forwards it and scores the sender down).
	before := b.Drops()[ErrBadField.Error()]
	if verdict, dec := b.validate(gb, a.ID(), vtSealEpoch(t, ga, badRaw)); verdict != p2p.Reject || dec != nil {
		t.Fatalf("validator: %v %v, want reject", verdict, dec)
	}
	if got := b.Drops()[ErrBadField.Error()]; got != before+1 {
		t.Fatalf("bad-field drops %d -> %d", before, got)
	}

	// On the wire, a publishes raw envelopes (its validator passes its
	// own). First valid ones, until one reaches c: b forwards to c only once
	// its GossipSub mesh has formed (a heartbeat after they meet).
	cBefore := c.Drops()[ErrBadField.Error()]
	seq, last := uint64(1001), time.Time{}
	var goodID store.MessageID
	waitFor(t, "a valid message from a to reach c through b", func() bool {
		if has, _ := c.st.Has(gc.rec.ID, goodID); seq > 1001 && has {
			return true
		}
		if time.Since(last) < 250*time.Millisecond {
			return false
		}
		last = time.Now()
		good := withEpoch(ga, vtText(t, ga.rec.ID, a.key, seq, stats.MaxLamport+seq, "in order"))
		good.Parents = parents
		seq++
		raw := vtSign(t, a.key, good)
		v, err := verifySigned(ga.rec.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		goodID = v.ID
		if err := ga.topic.Publish(ctx, vtSealEpoch(t, ga, raw)); err != nil {
			t.Fatal(err)
		}
		return false
	})
	// Then the invalid one: b rejects it (and, scoring a down, may ignore a
	// from then on).
	if err := ga.topic.Publish(ctx, vtSealEpoch(t, ga, badRaw)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to reject the invalid one", func() bool { return b.Drops()[ErrBadField.Error()] >= before+2 })
	// Had b forwarded it, it would be on b's stream to c ahead of b's own
	// next message: once that has arrived, so would have the invalid one.
	marker, err := b.Send(ctx, gi.ID, "marker")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's next message to reach c", func() bool {
		h, _ := c.History(gi.ID, "", 100)
		return slices.ContainsFunc(h, func(m Message) bool { return m.ID == marker.ID })
	})
	for _, n := range []*testNode{b, c} {
		if has, _ := n.st.Has(ga.rec.ID, badV.ID); has {
			t.Fatalf("%s stored the message with a clock below its parent's", n.cfg.displayName)
		}
	}
	if got := c.Drops()[ErrBadField.Error()]; got != cBefore {
		t.Fatalf("c saw the invalid message (bad-field drops %d -> %d): b forwarded it", cBefore, got)
	}
	h, _ := c.History(gi.ID, "", 100)
	for _, m := range h {
		if m.ID == hex.EncodeToString(badV.ID[:]) {
			t.Fatal("c shows the invalid message")
		}
	}
}
