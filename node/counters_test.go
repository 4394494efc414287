package node

import (
	"context"
	"slices"
	"testing"
)

// Counters follow sends, gossip, sync and stores; a message seen twice is
// received twice but stored once.
func TestCounters(t *testing.T) {
	_, nodes := mockNodes(t, 3, WithSyncInterval(0))
	a, b, late := nodes[0], nodes[1], nodes[2]
	g := formGroup(t, "Counted", a, b)
	before := a.Counters()
	sendN(t, a, g, "a", 10)
	waitConverged(t, g, 12, a, b)

	ca := a.Counters()
	if got := ca.MessagesSent - before.MessagesSent; got != 10 {
		t.Errorf("a sent %d, want 10", got)
	}
	if got := ca.MessagesStored - before.MessagesStored; got != 10 {
		t.Errorf("a stored %d of its own, want 10", got)
	}
	waitFor(t, "b counted a's 10 messages as received and stored", func() bool {
		cb := b.Counters()
		return cb.MessagesReceivedGossip+cb.MessagesReceivedSync >= 10 && cb.MessagesStored >= 10
	})
	if cb := b.Counters(); cb.MessagesStored > cb.MessagesSent+cb.MessagesReceivedGossip+cb.MessagesReceivedSync {
		t.Errorf("b stored more than it sent and received: %+v", cb)
	}

	// A late joiner gets the history by sync.
	code, err := a.Invite(g) // the owner: plain members may not invite
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Join(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, g, 13, a, b, late)
	waitFor(t, "late counted a sync pull with its bytes", func() bool {
		c := late.Counters()
		return c.MessagesReceivedSync >= 10 && c.SyncPulls >= 1 && c.SyncBytes > 0
	})
	if c := late.Counters(); c.MessagesStored < 12 {
		t.Errorf("late stored %d, want at least the 12 it lacked: %+v", c.MessagesStored, c)
	}
}

func TestDropReasons(t *testing.T) {
	rs := DropReasons()
	if len(rs) != len(dropReasons)+1 || rs[len(rs)-1] != "other" || !slices.Contains(rs, ErrBadSignature.Error()) {
		t.Fatalf("DropReasons = %q", rs)
	}
}
