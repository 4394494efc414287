package node

import (
	"context"
	"slices"
	"testing"

	"github.com/parley-chat/parley/node/internal/envelope"
)

// Lamport poisoning: a member sends one well-signed message whose clock is
// 2^62 (envelope.MaxLamport) on top of real parents. Accepted, it would
// push every honest clock past MaxLamport, so every later honest message
// would be refused and its sender cut off. The clock rule (a clock at most
// LamportStep past its parents and the receiver's view) refuses it, counted
// as lamport-jump, over gossip and over sync alike; honest traffic flows.
func TestAttackLamportPoisoning(t *testing.T) {
	ctx := context.Background()
	a, b, m, gid := attackTrio(t)
	ga, _ := a.group(gid)
	gm, _ := m.group(gid)

	// Over gossip.
	poison := craft(t, m, gm, "poison")
	poison.Lamport = envelope.MaxLamport
	waitParentsHeld(t, ga.rec.ID, poison, a, b)
	pv := publishRaw(t, m, gm, poison)
	waitFor(t, "a and b to refuse the poisoned clock", func() bool {
		return drop(a, envelope.ErrLamportJump) >= 1 && drop(b, envelope.ErrLamportJump) >= 1
	})
	// Over sync: mallory's store now holds it and serves it.
	if _, err := m.st.AppendReceived(ctx, pv.StoreMessage(gm.rec.ID)); err != nil {
		t.Fatal(err)
	}
	before := drop(a, envelope.ErrLamportJump)
	if _, err := pullNow(t, a, gid, m.ID()); err != nil {
		t.Fatal(err)
	}
	if got := drop(a, envelope.ErrLamportJump); got != before+1 {
		t.Fatalf("lamport-jump drops after a pull from mallory: %d -> %d, want +1", before, got)
	}
	for _, n := range []*testNode{a, b} {
		if holds(t, n, ga.rec.ID, pv.ID) {
			t.Fatalf("%s stored the poisoned message", n.cfg.displayName)
		}
	}

	// Honest traffic keeps flowing both ways, and mallory's honest client too.
	for i, n := range []*testNode{a, b, a, b} {
		text := []string{"a after", "b after", "a again", "b again"}[i]
		if _, err := n.Send(ctx, gid, text); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*testNode{a, b} {
			waitFor(t, o.cfg.displayName+" to receive "+text, func() bool { return slices.Contains(texts(t, o, gid), text) })
		}
	}
	info, err := a.Group(gid)
	if err != nil || info.Last == nil || info.Last.Lamport > 100 {
		t.Fatalf("clock after the attack: %+v %v", info.Last, err)
	}
}
