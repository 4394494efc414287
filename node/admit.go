package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/syncproto"
)

// Pubsub runs only with peers that proved a shared group in a sync
// handshake (p2p.WithPubSubGate), and a group's topic is told only to the
// peers that proved membership of that group (p2p.AdmitPubSubTopic): a
// member of one shared group does not learn the topics of the others. A
// proof fails when the responder does not
// yet know the requester as a member (a joiner syncing with a member that
// has not received its admission); nothing on pubsub can retry it, since
// the two are not pubsub peers. So whenever the node opens a group or its
// member list changes, connected members not yet admitted are asked again.
//
// Sync probes go only to peers the group's log lists as current members
// (any peer for a legacy group, which has no log): a connected stranger (a
// LAN node, a DHT neighbour, a relay) is never asked, so it learns nothing
// of how many groups this node holds, and no refusal of its shows up as a
// failed sync. A member we do not know of yet still reaches us: it probes
// us, and a key holder our log does not list is pulled from (syncproto).

// probe asks p for a sync of g if p is known to be a member of g, and
// says whether it asked.
func (n *Node) probe(p peer.ID, g *group) bool {
	if g.sync.Allow == nil || g.sync.Allow(p) {
		n.sync.Request(p, g.sync)
		return true
	}
	return false
}

// syncUnadmitted requests a sync of g with every connected member of g that
// is not admitted to g's topic. A proof can fail only for a moment (the
// other side has not stored our admission yet: a joiner and its inviter
// probe each other around the join), and nothing else asks again until the
// member list changes or the periodic sync runs, which may be off. So
// while members stay unadmitted they are asked again after each of
// admitRetries, then left to the periodic sync.
func (n *Node) syncUnadmitted(g *group) {
	if n.probeUnadmitted(g) == 0 || !g.admitRetrying.CompareAndSwap(false, true) {
		return
	}
	started := n.goOwned(func() {
		defer g.admitRetrying.Store(false)
		for _, d := range admitRetries {
			if !n.pause(d) {
				return
			}
			if n.groupByID(g.rec.ID) != g || n.probeUnadmitted(g) == 0 {
				return // left, or everyone admitted
			}
		}
	})
	if !started {
		g.admitRetrying.Store(false)
	}
}

// pullFromMembers asks every connected member of g for a sync (a message
// g's history needs, such as a membership op's parent, is missing).
func (n *Node) pullFromMembers(g *group) {
	for _, p := range n.host.Libp2p().Network().Peers() {
		n.probe(p, g)
	}
}

// pause waits d, or less if the node closes meanwhile: it reports whether
// the node is still running.
func (n *Node) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var admitRetries = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// probeUnadmitted asks each connected member of g not admitted to g's topic
// for a sync, and says how many it asked.
func (n *Node) probeUnadmitted(g *group) int {
	h := n.host
	asked := 0
	for _, p := range h.Libp2p().Network().Peers() {
		if !h.PubSubTopicAdmitted(p, g.topic.Name()) && n.probe(p, g) {
			asked++
		}
	}
	return asked
}

// onMember admits a peer that proved membership of a group to its topic.
func (n *Node) onMember(p peer.ID, sg *syncproto.Group) {
	n.reach.RememberConnected(p)
	if g := n.groupByID(sg.ID); g != nil {
		n.host.AdmitPubSubTopic(p, g.topic.Name())
	}
}
