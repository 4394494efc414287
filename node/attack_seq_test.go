package node

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
)

// A skipped seq: mallory's client jumps one seq, so no one ever holds it.
// Every pull used to resend all of mallory's later messages (the
// requester's vector stops at the hole): a resend loop. A hole that two
// complete pulls could not fill is now given up (counted seq-gap) and the
// vector carried past it, so later pulls cost a round trip.
func TestAttackSeqGapResendLoop(t *testing.T) {
	ctx := context.Background()
	a, b, m, gid := attackTrio(t)
	gm, _ := m.group(gid)

	gm.sendMu.Lock()
	gm.nextSeq++ // the modified client skips a seq
	gm.sendMu.Unlock()
	const after = 20
	var want []string
	for i := range after {
		text := fmt.Sprintf("after the gap %d", i)
		want = append(want, text)
		if _, err := m.Send(ctx, gid, text); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, n.cfg.displayName+" to hold mallory's messages", func() bool { return hasAll(texts(t, n, gid), want...) })
	}

	var received []uint64
	var bytes []uint64
	for range 6 {
		p, err := pullNow(t, a, gid, b.ID())
		if err != nil {
			t.Fatal(err)
		}
		received, bytes = append(received, p.Received), append(bytes, p.Bytes)
	}
	// At most the two pulls that find the hole resend (fewer if pulls when
	// the group formed found it already); then each pull is a round trip
	// (a few hundred bytes, against over 4 KB for the 20 messages).
	t.Logf("messages per pull %v, bytes per pull %v", received, bytes)
	for i := 2; i < len(received); i++ {
		if received[i] != 0 || bytes[i] > 1024 {
			t.Fatalf("pull %d still resends: %d messages, %d bytes", i+1, received[i], bytes[i])
		}
	}
	if got := drop(a, syncproto.ErrSeqGap); got != 1 {
		t.Fatalf("seq-gap drops %d, want 1 (one hole)", got)
	}
	// Honest traffic, mallory's included, still flows.
	if _, err := m.Send(ctx, gid, "later"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to get mallory's next message", func() bool { return slices.Contains(texts(t, a, gid), "later") })
}

// Equivocation: mallory signs two different messages with one seq and
// sends both. Each node keeps the first it stores and refuses the other
// everywhere (gossip and sync), counted and recorded as evidence.
func TestAttackEquivocation(t *testing.T) {
	ctx := context.Background()
	a, b, m, gid := attackTrio(t)
	ga, _ := a.group(gid)
	gm, _ := m.group(gid)

	one := craft(t, m, gm, "pay bob 10")
	two := craft(t, m, gm, "pay carol 10")
	if one.Seq != two.Seq {
		t.Fatal("the two messages must share a seq")
	}
	v1 := publishRaw(t, m, gm, one)
	v2 := publishRaw(t, m, gm, two)
	// mallory's store serves both.
	if _, err := m.st.AppendReceived(ctx, v1.StoreMessage(gm.rec.ID), v2.StoreMessage(gm.rec.ID)); err != nil {
		t.Fatal(err)
	}
	exactlyOne := func(n *testNode) bool {
		h1, h2 := holds(t, n, ga.rec.ID, v1.ID), holds(t, n, ga.rec.ID, v2.ID)
		return h1 != h2
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, n.cfg.displayName+" to keep one and refuse the other", func() bool {
			return exactlyOne(n) && drop(n, envelope.ErrEquivocation) >= 1
		})
	}
	for _, n := range []*testNode{a, b} {
		for range 2 {
			if _, err := pullNow(t, n, gid, m.ID()); err != nil {
				t.Fatal(err)
			}
		}
		if !exactlyOne(n) {
			t.Fatalf("%s holds both messages of one seq after syncing with mallory", n.cfg.displayName)
		}
		ev, err := n.st.Equivocations(ga.rec.ID)
		if err != nil || len(ev) != 1 || ev[0].Seq != one.Seq {
			t.Fatalf("%s: evidence %+v %v", n.cfg.displayName, ev, err)
		}
	}
	if _, err := a.Send(ctx, gid, "honest"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to receive a's message", func() bool { return slices.Contains(texts(t, b, gid), "honest") })
}
