package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// Helpers for the attack tests (issue 12): real nodes on loopback, one of
// them a member running a modified client that signs what it likes.

// attackOpts: no periodic sync or rendezvous, so what moves is what a test
// moves (gossip, and pulls it asks for).
func attackOpts() []Option {
	return []Option{WithSyncInterval(0), WithRendezvousInterval(0)}
}

// attackTrio starts alice, bob and mallory in one group (alice created
// it), the cast of most attack tests.
func attackTrio(t *testing.T) (a, b, m *testNode, gid string) {
	t.Helper()
	a = newTestNode(t, "alice", "", attackOpts()...)
	b = newTestNode(t, "bob", "", attackOpts()...)
	m = newTestNode(t, "mallory", "", attackOpts()...)
	return a, b, m, attackGroup(t, false, a, b, m)
}

// attackGroup has nodes[0] create a group that every other node joins
// (invited by nodes[0]) and waits until each holds every join and sees the
// others on the topic.
func attackGroup(t *testing.T, fromJoin bool, nodes ...*testNode) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	gi, err := nodes[0].CreateGroup(ctx, "Attack", fromJoin)
	if err != nil {
		t.Fatal(err)
	}
	code, err := nodes[0].Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		if _, err := n.Join(ctx, code); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			// Join dials the inviter too: a simultaneous open may fail once.
			waitFor(t, "a connection", func() bool {
				if a.Host().IsConnected(b.ID()) {
					return true
				}
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				return a.Host().Connect(ctx, b.addrInfo(), p2p.SourceDirect) == nil
			})
		}
	}
	for _, n := range nodes {
		g, _ := n.group(gi.ID)
		waitForOr(t, n.cfg.displayName+" to see every member on the topic", func() bool {
			ps := g.topic.ListPeers()
			for _, o := range nodes {
				if o != n && !slices.Contains(ps, o.ID()) {
					return false
				}
			}
			return true
		}, func() string { return topicPeersExplained(n, g, nodes) })
	}
	if !fromJoin {
		for _, n := range nodes {
			g, _ := n.group(gi.ID)
			waitFor(t, n.cfg.displayName+" to hold every join", func() bool {
				if ms, err := n.MemberList(gi.ID); err == nil && len(ms) == len(nodes) {
					return true
				}
				for _, p := range g.topic.ListPeers() {
					n.sync.Request(p, g.sync)
				}
				return false
			})
		}
	}
	return gi.ID
}

// craft is a text message by n in g on top of n's heads, with its next seq
// and clock: what n's client would send, for the test to alter.
func craft(t *testing.T, n *testNode, g *group, text string) *wirepb.Message {
	t.Helper()
	heads, err := n.st.Heads(g.rec.ID, MaxParents)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := n.st.GroupStats(g.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	parents := make([][]byte, len(heads))
	for i, h := range heads {
		parents[i] = append([]byte(nil), h[:]...)
	}
	g.sendMu.Lock()
	seq := g.nextSeq
	g.sendMu.Unlock()
	return &wirepb.Message{Version: WireVersion, GroupId: append([]byte(nil), g.rec.ID[:]...), Author: n.pub, Seq: seq,
		Lamport: stats.MaxLamport + 1, TimestampMs: time.Now().UnixMilli(), Parents: parents, Epoch: epochOf(g),
		Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text}}}}
}

// reserveSeq gives m the node's next seq and takes it from the node's own
// sender, for a crafted message that stands for one more of the node's
// own: craft only reads the next seq, and a receipt the node writes
// meanwhile (every 100 ms under uxOpts) would take the same one, so that
// the second of the two is refused everywhere as an equivocation.
func reserveSeq(g *group, m *wirepb.Message) {
	g.sendMu.Lock()
	m.Seq = g.nextSeq
	g.nextSeq++
	g.sendMu.Unlock()
}

// waitParentsHeld waits until every node holds all of m's parents: a
// clock check judges a message with a missing parent as possibly behind
// (deferred), not as an attack, and a parent may still be on its way (a
// receipt mallory wrote just before).
func waitParentsHeld(t *testing.T, g store.GroupID, m *wirepb.Message, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, n.cfg.displayName+" to hold the crafted message's parents", func() bool {
			for _, p := range m.Parents {
				if !holds(t, n, g, store.MessageID(p)) {
					return false
				}
			}
			return true
		})
	}
}

// publishRaw signs m with n's key and publishes it on g's topic as n's
// client would, without storing it.
func publishRaw(t *testing.T, n *testNode, g *group, m *wirepb.Message) *verified {
	t.Helper()
	v, err := signMessage(n.key, m)
	if err != nil {
		t.Fatal(err)
	}
	env := vtSealEpoch(t, g, v.Raw)
	if err := g.topic.Publish(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return v
}

// holds reports whether n stores the message id in g.
func holds(t *testing.T, n *testNode, g store.GroupID, id store.MessageID) bool {
	t.Helper()
	has, err := n.st.Has(g, id)
	if err != nil {
		t.Fatal(err)
	}
	return has
}

func drop(n *testNode, reason error) uint64 { return n.Drops()[reason.Error()] }

// waitSyncIdle waits until n runs no pull and has none pending, so that
// what a test then puts in a peer's store reaches n by the test's own pull
// alone (each pull that sees a forgery counts it once more).
func waitSyncIdle(t *testing.T, n *testNode) {
	t.Helper()
	waitFor(t, n.cfg.displayName+"'s pulls to finish", func() bool { return !n.sync.Busy() })
}

// pullNow runs one pull of group from p on n's goroutine.
func pullNow(t *testing.T, n *testNode, gid string, p peer.ID) (SyncProgress, error) {
	t.Helper()
	g, err := n.group(gid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return n.sync.Pull(ctx, p, g.sync)
}

var _ = envelope.LamportStep

// waitHoldsAllOf waits until each of holders holds every message author has
// sent in g so far, pulling from author while it does not.
func waitHoldsAllOf(t *testing.T, author *testNode, g *group, gid string, holders ...*testNode) {
	t.Helper()
	for _, n := range holders {
		waitFor(t, n.cfg.displayName+" to hold all of "+author.cfg.displayName+"'s messages so far", func() bool {
			g.sendMu.Lock()
			sent := g.nextSeq - 1
			g.sendMu.Unlock()
			for _, as := range mustVector(t, n, gid) {
				if peer.ID(as.Author) == author.ID() && as.Seq == sent {
					return true
				}
			}
			_, _ = pullNow(t, n, gid, author.ID())
			return false
		})
	}
}

// withhold has n store a message of its own in g (text) without publishing
// it, and refuse pulls, so no other member can get it; n's next messages
// name it as a parent. others' pulls already open are let end first (an
// open pull is still served and could carry it). serve makes n answer
// pulls again. n must send no receipts: one could take the reserved seq.
func withhold(t *testing.T, ctx context.Context, n *testNode, g *group, text string, others ...*testNode) (serve func()) {
	t.Helper()
	n.Host().Libp2p().RemoveStreamHandler(SyncProtocol)
	waitFor(t, "pulls in flight to end", func() bool {
		return !slices.ContainsFunc(others, func(o *testNode) bool { return o.sync.Busy() })
	})
	storeUnpublished(t, ctx, n, g, text)
	return func() { n.Host().SetStreamHandler(SyncProtocol, n.sync.Handle) }
}

// storeUnpublished has n sign a message of its own in g (text, next seq)
// and store it without publishing: only a pull from n carries it.
func storeUnpublished(t *testing.T, ctx context.Context, n *testNode, g *group, text string) *verified {
	t.Helper()
	m := craft(t, n, g, text)
	reserveSeq(g, m)
	v, err := signMessage(n.key, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.st.Append(ctx, v.StoreMessage(g.rec.ID)); err != nil {
		t.Fatal(err)
	}
	return v
}

// topicPeersExplained says, of each node n's topic lacks, what each side
// of the pair knows of the other: for a set-up wait that timed out.
func topicPeersExplained(n *testNode, g *group, nodes []*testNode) string {
	var out []string
	ps := g.topic.ListPeers()
	for _, o := range nodes {
		if o == n || slices.Contains(ps, o.ID()) {
			continue
		}
		og := o.groupByID(g.rec.ID)
		protos, _ := n.Host().Libp2p().Peerstore().GetProtocols(o.ID())
		var streams []string
		for _, c := range n.Host().Libp2p().Network().ConnsToPeer(o.ID()) {
			for _, s := range c.GetStreams() {
				streams = append(streams, fmt.Sprintf("%s/%s", s.Protocol(), s.Stat().Direction))
			}
		}
		var pulls []syncproto.Progress
		for _, pr := range n.sync.Progress() {
			if pr.Peer == o.ID().String() {
				pulls = append(pulls, pr)
			}
		}
		out = append(out, fmt.Sprintf("%s lacks %s: connected %v, admitted here %v, there %v, its topic lists us %v, allowed here %v, there %v, protocols %v, streams %v, pulls %+v, drops %v",
			n.cfg.displayName, o.cfg.displayName, n.Host().IsConnected(o.ID()),
			n.Host().PubSubTopicAdmitted(o.ID(), g.topic.Name()), o.Host().PubSubTopicAdmitted(n.ID(), og.topic.Name()),
			slices.Contains(og.topic.ListPeers(), n.ID()), g.sync.Allow(o.ID()), og.sync.Allow(n.ID()), protos, streams, pulls, n.Drops()))
	}
	return strings.Join(out, "; ")
}
