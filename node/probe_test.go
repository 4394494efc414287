package node

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Sync probes go only to peers the group's log lists as members. A stranger
// connected to a member (a stock libp2p peer that would answer a sync, and
// a Parley node with a group of its own) is never asked, whatever happens
// on the member's side (a connection, a new group, a membership change), and
// so never shows as a failed sync in the member's peer list. Members still
// sync and are admitted to pubsub.
func TestStrangersAreNeverProbed(t *testing.T) {
	ctx := context.Background()
	mn, nodes := mockNodes(t, 2)
	a, b := nodes[0], nodes[1]
	gid := formGroup(t, "Members", a, b)

	// A stock host that counts the sync streams opened to it.
	x, _ := mockHost(t, mn)
	var asked atomic.Int64
	x.SetStreamHandler(SyncProtocol, func(s network.Stream) { asked.Add(1); s.Reset() })
	// A Parley stranger with a group of its own.
	s := addMockNode(t, mn, "stranger", nil)
	if _, err := s.CreateGroup(ctx, "Elsewhere", false); err != nil {
		t.Fatal(err)
	}
	events, cancel := a.Subscribe()
	defer cancel()
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []peer.ID{x.ID(), s.ID()} {
		if _, err := mn.ConnectPeers(a.ID(), p); err != nil {
			t.Fatal(err)
		}
	}
	up := map[string]bool{}
	waitEvent(t, events, func(e Event) bool {
		if e.Type == EventPeer && e.Peer.Connected && (e.Peer.ID == x.ID().String() || e.Peer.ID == s.ID().String()) {
			up[e.Peer.ID] = true
		}
		return len(up) == 2
	})

	// What used to probe every connected peer: a new group, a membership
	// change, a message.
	gi, err := a.CreateGroup(ctx, "Second", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	makeAdmin(t, a, b, gid)
	if _, err := b.Send(ctx, gid, "after the strangers came"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to read b", func() bool { return hasAll(texts(t, a, gid), "after the strangers came") })
	if _, err := a.Send(ctx, gi.ID, "in the second group"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to read a in the second group", func() bool { return hasAll(texts(t, b, gi.ID), "in the second group") })

	if n := asked.Load(); n != 0 {
		t.Errorf("the stock peer was asked for %d syncs", n)
	}
	if d := dropsOf(s, ErrSyncDenied); d != 0 {
		t.Errorf("the Parley stranger refused %d syncs from a", d)
	}
	strangers := map[string]bool{x.ID().String(): true, s.ID().String(): true}
	for _, sp := range a.sync.Progress() {
		if strangers[sp.Peer] {
			t.Errorf("a synced with a stranger: %+v", sp)
		}
	}
	seen := 0
	for _, pi := range a.Peers() {
		if strangers[pi.ID] {
			seen++
			if len(pi.Sync) != 0 {
				t.Errorf("a's peer list shows sync state for stranger %s: %+v", pi.ID, pi.Sync)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("a lists %d of the 2 strangers as connected", seen)
	}
	if a.Host().PubSubAdmitted(x.ID()) || a.Host().PubSubAdmitted(s.ID()) || !a.Host().PubSubAdmitted(b.ID()) {
		t.Fatal("pubsub admission: strangers admitted or the member not")
	}
}

// waitEvent reads events until one matches, within the test timeout.
func waitEvent(t *testing.T, events <-chan Event, match func(Event) bool) {
	t.Helper()
	waitFor(t, "an event", func() bool {
		for {
			select {
			case e := <-events:
				if match(e) {
					return true
				}
			default:
				return false
			}
		}
	})
}

// A member that missed another's admission is not probed by it... but the
// newcomer probes it: the key holder its log does not list is pulled from,
// the admission arrives, and the two chat. Here c was cut off while d
// joined, and then meets d only.
func TestMemberBehindLearnsNewcomerFromIt(t *testing.T) {
	ctx := context.Background()
	mn, nodes := mockNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	gid := formGroup(t, "Behind", a, b, c)
	partition(t, mn, []*testNode{c}, []*testNode{a, b})
	d := addMockNode(t, mn, "d", nil, WithReceiptInterval(0))
	heal(t, mn, []*testNode{d}, []*testNode{a, b})
	joinVia(t, a, d, gid)
	waitFor(t, "a, b and d to list four members", func() bool {
		return len(mustList(t, a, gid)) == 4 && len(mustList(t, b, gid)) == 4 && len(mustList(t, d, gid)) == 4
	})
	if len(mustList(t, c, gid)) != 3 {
		t.Fatal("c heard of d's admission across the cut")
	}
	heal(t, mn, []*testNode{c}, []*testNode{d})
	waitFor(t, "c to learn d's admission", func() bool { return len(mustList(t, c, gid)) == 4 })
	waitFor(t, "c and d admitted to each other's pubsub", func() bool {
		return c.Host().PubSubAdmitted(d.ID()) && d.Host().PubSubAdmitted(c.ID())
	})
	if _, err := d.Send(ctx, gid, "from d"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, gid, "from c"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to read d", func() bool { return hasAll(texts(t, c, gid), "from d") })
	waitFor(t, "d to read c", func() bool { return hasAll(texts(t, d, gid), "from c") })
}
