package node

import (
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

// probe asks p for a sync of g if p is known to be a member of g.
func (n *Node) probe(p peer.ID, g *group) {
	if g.sync.Allow == nil || g.sync.Allow(p) {
		n.sync.Request(p, g.sync)
	}
}

// syncUnadmitted requests a sync of g with every connected member of g that
// is not admitted to g's topic.
func (n *Node) syncUnadmitted(g *group) {
	h := n.host
	for _, p := range h.Libp2p().Network().Peers() {
		if !h.PubSubTopicAdmitted(p, g.topic.Name()) {
			n.probe(p, g)
		}
	}
}

// onMember admits a peer that proved membership of a group to its topic.
func (n *Node) onMember(p peer.ID, sg *syncproto.Group) {
	n.reach.RememberConnected(p)
	if g := n.groupByID(sg.ID); g != nil {
		n.host.AdmitPubSubTopic(p, g.topic.Name())
	}
}
