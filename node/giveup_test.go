package node

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// Bob and carol both miss one of alice's messages: she stores it but
// withholds it (publishes the later ones, serves no pulls). Bob pulls from
// carol until he gives the hole up with her (she lacks it too). Once alice
// serves again, bob's next pull from her must bring it: a peer that lacks
// a message must not stop him asking one that holds it. Before give-ups
// were per peer, bob gave it up for every peer for two minutes; in a
// 20-node bench formation two members striking out a membership op for
// each other that way stalled the group (docs/sync.md).
func TestGiveUpWithOnePeerStillAsksAnother(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// Alice sends no receipts: one could take the seq crafted below.
	a := newTestNode(t, "alice", "", append(attackOpts(), WithReceiptInterval(0))...)
	b := newTestNode(t, "bob", "", attackOpts()...)
	c := newTestNode(t, "carol", "", attackOpts()...)
	gid := attackGroup(t, false, a, b, c)
	ga, _ := a.group(gid)
	waitHoldsAllOf(t, a, ga, gid, b, c)
	serve := withhold(t, ctx, a, ga, "withheld", b, c)
	for i := range 3 {
		if _, err := a.Send(ctx, gid, fmt.Sprintf("after %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*testNode{b, c} {
		waitFor(t, n.cfg.displayName+" to hold the later messages", func() bool { return hasAll(texts(t, n, gid), "after 2") })
	}

	// Complete pulls from carol, who lacks it too: bob gives it up with her.
	for range 3 {
		if _, err := pullNow(t, b, gid, c.ID()); err != nil {
			t.Fatal(err)
		}
	}
	if slices.Contains(texts(t, b, gid), "withheld") {
		t.Fatal("bob got the withheld message from carol, who never had it")
	}

	serve()
	if _, err := pullNow(t, b, gid, a.ID()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(texts(t, b, gid), "withheld") {
		t.Fatal("bob's pull from alice did not ask for the message he gave up with carol")
	}
}
