package node

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/p2p"
)

// mockNodes starts n nodes on one mocknet, all linked and connected.
func mockNodes(t *testing.T, n int, opts ...Option) (mocknet.Mocknet, []*testNode) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	nodes := make([]*testNode, n)
	// No delivery receipts unless a test asks: they are messages too, and
	// one sent while a link is cut (sync interval 0 here) would keep the
	// store counts of converged nodes apart.
	opts = append([]Option{WithReceiptInterval(0)}, opts...)
	for i := range nodes {
		nodes[i] = addMockNode(t, mn, fmt.Sprintf("n%d", i), nil, opts...)
	}
	linkAndConnectAll(t, mn, nodes)
	return mn, nodes
}

// linkAndConnectAll links every host of mn and connects every pair of nodes.
func linkAndConnectAll(t *testing.T, mn mocknet.Mocknet, nodes []*testNode) {
	t.Helper()
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		for j := i + 1; j < len(nodes); j++ {
			if _, err := mn.ConnectPeers(nodes[i].ID(), nodes[j].ID()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func addMockNode(t *testing.T, mn mocknet.Mocknet, name string, key crypto.PrivKey, opts ...Option) *testNode {
	t.Helper()
	if key == nil {
		var err error
		key, _, err = crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := mn.AddPeer(key, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 10000+len(mn.Peers()))))
	if err != nil {
		t.Fatal(err)
	}
	return startTestNode(t, name, "", key, append([]Option{WithP2P(p2p.WithHost(h))}, opts...)...)
}

// formGroup has nodes[0] create a group and every other node join it, and
// waits until all hold every join.
func formGroup(t *testing.T, name string, nodes ...*testNode) string {
	t.Helper()
	ctx := context.Background()
	g, err := nodes[0].CreateGroup(ctx, name, false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := nodes[0].Invite(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		if _, err := n.Join(ctx, code); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, g.ID, len(nodes), nodes...)
	waitTopicPeers(t, g.ID, nodes...)
	return g.ID
}

// waitTopicPeers waits until each node's pubsub knows every connected other
// node as subscribed to the group's topic. Until then a publish skips that
// member, and with periodic sync off (most tests) nothing would bring the
// message later: holding the same messages (waitConverged) does not imply it.
func waitTopicPeers(t testing.TB, group string, nodes ...*testNode) {
	t.Helper()
	for _, x := range nodes {
		g, err := x.group(group)
		if err != nil {
			t.Fatal(err)
		}
		for _, y := range nodes {
			if x == y || !x.Host().IsConnected(y.ID()) {
				continue
			}
			waitForOr(t, x.cfg.displayName+" to see "+y.cfg.displayName+" on the topic", func() bool {
				return slices.Contains(g.topic.ListPeers(), y.ID())
			}, func() string {
				// Which side of the admission is missing, should this ever time out.
				yg, err := y.group(group)
				ySees := err == nil && slices.Contains(yg.topic.ListPeers(), x.ID())
				return fmt.Sprintf("%s admits %s to the topic: %v; %s admits %s: %v; %s sees %s on it: %v; connected: %v",
					x.cfg.displayName, y.cfg.displayName, x.Host().PubSubTopicAdmitted(y.ID(), g.topic.Name()),
					y.cfg.displayName, x.cfg.displayName, y.Host().PubSubTopicAdmitted(x.ID(), g.topic.Name()),
					y.cfg.displayName, x.cfg.displayName, ySees, y.Host().IsConnected(x.ID()))
			})
		}
	}
}

// waitConverged waits until every node holds want messages of the group and
// all show them in the same order.
func waitConverged(t *testing.T, group string, want int, nodes ...*testNode) {
	t.Helper()
	defer func() {
		if t.Failed() {
			for _, n := range nodes {
				gi, err := n.Group(group)
				t.Logf("%s: %d messages (%v), sync %+v", n.cfg.displayName, gi.Messages, err, n.sync.Progress())
			}
		}
	}()
	// Membership op messages (joins, invites) ride along; want counts the
	// rest. Cheap checks first: the store counts agree and reach want.
	waitFor(t, fmt.Sprintf("%d messages on %d nodes, same order", want, len(nodes)), func() bool {
		var count uint64
		for i, n := range nodes {
			gi, err := n.Group(group)
			if err != nil || gi.Messages < uint64(want) || (i > 0 && gi.Messages != count) {
				return false
			}
			count = gi.Messages
		}
		if visible(t, nodes[0], group) != want {
			return false
		}
		first := ids(t, nodes[0], group)
		for _, n := range nodes[1:] {
			if !slices.Equal(ids(t, n, group), first) {
				return false
			}
		}
		return true
	})
}

func partition(t *testing.T, mn mocknet.Mocknet, left, right []*testNode) {
	t.Helper()
	// GossipSub opens its stream to a peer a moment after the connection.
	// Mocknet's connection teardown resets only the streams open at that
	// instant, so a stream opened during the cut would survive it and leak
	// messages across. Cut only once pubsub has its streams to everyone.
	all := append(append([]*testNode(nil), left...), right...)
	waitFor(t, "pubsub to know every connected peer", func() bool {
		for _, x := range all {
			for _, y := range all {
				if x == y || !x.Host().IsConnected(y.ID()) {
					continue
				}
				for _, g := range x.allGroups() {
					if !slices.Contains(g.topic.ListPeers(), y.ID()) {
						return false
					}
				}
			}
		}
		return true
	})
	for _, a := range left {
		for _, b := range right {
			if err := mn.UnlinkPeers(a.ID(), b.ID()); err != nil {
				t.Fatal(err)
			}
			mn.DisconnectPeers(a.ID(), b.ID())
		}
	}
	// Connections close asynchronously; a message sent before they are
	// gone could still cross.
	waitFor(t, "the partition to take effect", func() bool {
		for _, a := range left {
			for _, b := range right {
				if a.Host().IsConnected(b.ID()) || b.Host().IsConnected(a.ID()) {
					return false
				}
			}
		}
		return true
	})
}

func heal(t *testing.T, mn mocknet.Mocknet, left, right []*testNode) {
	t.Helper()
	for _, a := range left {
		for _, b := range right {
			if _, err := mn.LinkPeers(a.ID(), b.ID()); err != nil {
				t.Fatal(err)
			}
			if _, err := mn.ConnectPeers(a.ID(), b.ID()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func sendN(t *testing.T, n *testNode, group, prefix string, count int) []string {
	t.Helper()
	var out []string
	for i := range count {
		text := fmt.Sprintf("%s %d", prefix, i)
		if _, err := n.Send(context.Background(), group, text); err != nil {
			t.Fatal(err)
		}
		out = append(out, text)
	}
	return out
}

func TestPartitionHeal(t *testing.T) {
	if raceEnabled {
		// Mocknet tears a connection down by resetting its streams before
		// dropping it; GossipSub, seeing the reset while the peer still
		// counts as connected, reopens a stream that survives the cut (seen
		// in about 1 run in 10 under -race, never reliably avoidable from
		// outside). Real transports close the whole session. The test runs
		// without -race in the same CI job.
		t.Skip("mocknet's teardown lets a GossipSub stream survive a cut under -race")
	}
	mn, nodes := mockNodes(t, 4, WithSyncInterval(0))
	a, b, c, d := nodes[0], nodes[1], nodes[2], nodes[3]
	g := formGroup(t, "Team", a, b, c, d)

	partition(t, mn, []*testNode{a, b}, []*testNode{c, d})
	var left, right []string
	left = append(left, sendN(t, a, g, "a", 5)...)
	left = append(left, sendN(t, b, g, "b", 5)...)
	right = append(right, sendN(t, c, g, "c", 5)...)
	right = append(right, sendN(t, d, g, "d", 5)...)
	waitFor(t, "each side converged", func() bool {
		return hasAll(texts(t, a, g), left...) && hasAll(texts(t, b, g), left...) &&
			hasAll(texts(t, c, g), right...) && hasAll(texts(t, d, g), right...)
	})
	if hasAll(texts(t, a, g), right[0]) {
		t.Fatal("partition leaked")
	}

	heal(t, mn, []*testNode{a, b}, []*testNode{c, d})
	waitConverged(t, g, 4+20, a, b, c, d)
	// And the next message after healing names both sides' heads as parents.
	m, err := a.Send(context.Background(), g, "after heal")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parents) < 2 {
		t.Fatalf("merge message has parents %v, want both branches", m.Parents)
	}
	waitConverged(t, g, 4+21, a, b, c, d)
}

func TestStoreAndForward(t *testing.T) {
	mn, nodes := mockNodes(t, 3, WithSyncInterval(0))
	a, b, c := nodes[0], nodes[1], nodes[2]
	g := formGroup(t, "Relay", a, b, c)

	partition(t, mn, []*testNode{c}, []*testNode{a, b}) // C goes offline
	if _, err := a.Send(context.Background(), g, "only B hears this"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b has a's message", func() bool { return hasAll(texts(t, b, g), "only B hears this") })
	a.stop() // A goes offline for good

	heal(t, mn, []*testNode{c}, []*testNode{b}) // C comes back and meets only B
	waitFor(t, "c got a's message from b", func() bool { return hasAll(texts(t, c, g), "only B hears this") })
	waitConverged(t, g, 4, b, c)
}

func TestLateJoinerGetsHistory(t *testing.T) {
	_, nodes := mockNodes(t, 3, WithSyncInterval(0))
	a, b, late := nodes[0], nodes[1], nodes[2]
	g := formGroup(t, "Book club", a, b)
	earlier := append(sendN(t, a, g, "a", 10), sendN(t, b, g, "b", 10)...)
	waitConverged(t, g, 22, a, b)

	makeAdmin(t, a, b, g) // inviting takes an admin
	code, err := b.Invite(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Join(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, g, 23, a, b, late)
	if !hasAll(texts(t, late, g), earlier...) {
		t.Fatal("late joiner misses earlier history")
	}
}

func TestHistoryFromJoinGroup(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	var aLater atomic.Int64 // a's clock offset: the node reads it from its own goroutines
	a := addMockNode(t, mn, "a", nil, WithClock(func() time.Time { return t0.Add(time.Duration(aLater.Load())) }))
	// The messages sent after the join reach late by gossip or, when the
	// sender publishes before it knows late on the topic (or late does not
	// yet hold the new epoch's key), by late's next pull; a short interval
	// keeps that pull within the test's wait. What matters here is what a
	// pull leaves out.
	late := addMockNode(t, mn, "late", nil, WithClock(func() time.Time { return t0.Add(time.Hour) }),
		WithSyncInterval(2*time.Second))
	mn.LinkAll()
	if _, err := mn.ConnectPeers(a.ID(), late.ID()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gi, err := a.CreateGroup(ctx, "Private", true)
	if err != nil {
		t.Fatal(err)
	}
	sendN(t, a, gi.ID, "before", 3)
	code, _ := a.Invite(gi.ID)
	if _, err := late.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	// A sends after the join, with a clock past the joiner's join time.
	aLater.Store(int64(2 * time.Hour))
	sendN(t, a, gi.ID, "after", 2)
	waitFor(t, "late has the messages after its join", func() bool { return hasAll(texts(t, late, gi.ID), "after 0", "after 1") })
	// Wait for a completed pull so "not there" means "not sent", not "not yet".
	waitFor(t, "a pull finished", func() bool {
		for _, p := range late.sync.Progress() {
			if p.Done && p.Err == "" {
				return true
			}
		}
		return false
	})
	if hasAll(texts(t, late, gi.ID), "before 0") {
		t.Fatal("history-from-join group sent history from before the join")
	}
}

func TestSyncResumesAfterDroppedConnection(t *testing.T) {
	mn, nodes := mockNodes(t, 2, WithSyncInterval(0))
	a, b := nodes[0], nodes[1]
	g := formGroup(t, "Big", a, b)

	partition(t, mn, []*testNode{a}, []*testNode{b})
	const total = 12000
	bulkAppend(t, a, g, total)

	cut := make(chan struct{})
	var once sync.Once
	b.sync.AfterBatch = func(p peer.ID, _ uint64) {
		once.Do(func() {
			// Drop the link in the middle of the transfer.
			mn.UnlinkPeers(a.ID(), b.ID())
			mn.DisconnectPeers(a.ID(), b.ID())
			close(cut)
		})
	}
	heal(t, mn, []*testNode{a}, []*testNode{b})
	<-cut
	waitFor(t, "the interrupted pull ended", func() bool {
		for _, p := range b.sync.Progress() {
			if p.Peer == a.ID().String() && p.Done {
				return true
			}
		}
		return false
	})
	partial := len(ids(t, b, g))

	if partial <= 2 || partial >= total+2 {
		t.Fatalf("after the cut b holds %d messages; want a partial transfer", partial)
	}
	heal(t, mn, []*testNode{a}, []*testNode{b})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("b progress: %+v; b count %d", b.sync.Progress(), len(ids(t, b, g)))
		}
	})
	waitConverged(t, g, total+2, a, b)
}

// bulkAppend writes count signed text messages from n straight to its store
// (fast set-up for large histories).
func bulkAppend(t testing.TB, n *testNode, ref string, count int) {
	t.Helper()
	grp, err := n.group(ref)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count; i += 500 {
		var vs []*verified
		for j := i; j < min(i+500, count); j++ {
			vs = append(vs, buildText(t, n.Node, grp, fmt.Sprintf("bulk %d", j)))
		}
		if _, err := n.ingest(grp, vs, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestartKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	a := newTestNode(t, "a", "")
	b := newTestNode(t, "b", dir)
	connect(t, a, b)
	ctx := context.Background()
	gi, err := a.CreateGroup(ctx, "Family", false)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := a.Invite(gi.ID)
	if _, err := b.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	sendN(t, a, gi.ID, "a", 5)
	sendN(t, b, gi.ID, "b", 5)
	waitConverged(t, gi.ID, 12, a, b)
	before, err := b.History(gi.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	key := b.key
	b.stop()

	b2 := startTestNode(t, "b", dir, key)
	after, err := b2.History(gi.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(x, y Message) bool { return x.ID == y.ID && x.Text == y.Text && x.Cursor == y.Cursor }) {
		t.Fatalf("history changed across restart")
	}
	// B continues its own sequence after the restart.
	m, err := b2.Send(ctx, gi.ID, "after restart")
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 7 { // join + 5 texts, then this one
		t.Fatalf("seq after restart = %d, want 7", m.Seq)
	}
	// And it reconnects to A by itself: A was remembered.
	waitFor(t, "b2 redials a", func() bool { return b2.Host().IsConnected(a.ID()) })
	waitConverged(t, gi.ID, 13, a, b2)
}

// visible counts a group's messages other than membership ops.
func visible(t testing.TB, n *testNode, group string) int {
	t.Helper()
	c, before := 0, ""
	for {
		h, err := n.History(group, before, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h {
			if m.Kind != "membership" {
				c++
			}
		}
		if len(h) < 1000 {
			return c
		}
		before = h[0].Cursor
	}
}
