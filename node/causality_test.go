package node

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/parley-chat/parley/p2p"
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
	if code, err = b.Invite(gi.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	ga, _ := a.group(gi.ID)
	gb, _ := b.group(gi.ID)
	gc, _ := c.group(gi.ID)
	for _, n := range []*testNode{a, b, c} {
		waitFor(t, n.cfg.displayName+" to hold the three joins", func() bool {
			g, err := n.Group(gi.ID)
			return err == nil && g.Messages == 3
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
	bad := vtText(t, ga.rec.ID, a.key, 1000, 1, "back in time")
	bad.Parents = parents
	good := vtText(t, ga.rec.ID, a.key, 1001, stats.MaxLamport+1, "in order")
	good.Parents = parents
	badRaw, goodRaw := vtSign(t, a.key, bad), vtSign(t, a.key, good)
	badV, err := verifySigned(ga.rec.ID, badRaw)
	if err != nil {
		t.Fatal(err)
	}
	goodV, err := verifySigned(ga.rec.ID, goodRaw)
	if err != nil {
		t.Fatal(err)
	}

	// The verdict itself, on b: reject (p2p never forwards it and scores the sender down).
	before := b.Drops()[ErrBadField.Error()]
	if verdict, dec := b.validate(gb, a.ID(), vtSeal(t, &ga.keys, badRaw)); verdict != p2p.Reject || dec != nil {
		t.Fatalf("validator: %v %v, want reject", verdict, dec)
	}
	if got := b.Drops()[ErrBadField.Error()]; got != before+1 {
		t.Fatalf("bad-field drops %d -> %d", before, got)
	}

	// On the wire: a publishes both (its validator passes its own), bad first.
	cBefore := c.Drops()[ErrBadField.Error()]
	if err := ga.topic.Publish(ctx, vtSeal(t, &ga.keys, badRaw)); err != nil {
		t.Fatal(err)
	}
	if err := ga.topic.Publish(ctx, vtSeal(t, &ga.keys, goodRaw)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the valid message to reach c through b", func() bool {
		has, _ := c.st.Has(gc.rec.ID, goodV.ID)
		return has
	})
	waitFor(t, "b to reject the invalid one", func() bool { return b.Drops()[ErrBadField.Error()] >= before+2 })
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
