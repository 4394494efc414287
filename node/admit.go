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
// has not received its admission) or has no serving slot free; nothing on
// pubsub can retry it, since the two are not pubsub peers. So connected
// members not yet admitted are asked again until they are (syncUnadmitted).
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
// is not admitted to g's topic. A proof can fail for a moment (the other
// side has not stored our admission yet: a joiner and its inviter probe
// each other around the join; or it is busy serving others), so while
// members stay unadmitted they are asked again after each of admitRetries,
// then every admitRetryEvery until none is left. Nothing else would ask:
// the periodic sync pulls from the topic's peers, which an unadmitted
// member is not, and the member list or the connection may not change for
// hours. A new call while the loop runs restarts its fast retries.
func (n *Node) syncUnadmitted(g *group) {
	if n.probeUnadmitted(g) == 0 {
		return
	}
	n.retryUnadmitted(g)
}

// retryUnadmitted starts syncUnadmitted's retries, or restarts the fast
// ones, for members the caller has just asked.
func (n *Node) retryUnadmitted(g *group) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.retryUnadmittedLocked(g)
}

// retryUnadmittedLocked is retryUnadmitted for a caller holding n.mu.
func (n *Node) retryUnadmittedLocked(g *group) {
	if !g.admitRetrying.CompareAndSwap(false, true) {
		kick(g.admitKick)
		return
	}
	if !n.goOwnedLocked(func() { n.admitRetryLoop(g) }) {
		g.admitRetrying.Store(false)
	}
}

func (n *Node) admitRetryLoop(g *group) {
	defer func() {
		g.admitRetrying.Store(false)
		// A call that found the loop still running as it ended has left a
		// kick: take it up here, or its member waits for the next change.
		select {
		case <-g.admitKick:
			if n.groupByID(g.rec.ID) == g {
				n.retryUnadmitted(g)
			}
		default:
		}
	}()
	for i := 0; ; i++ {
		d := admitRetryEvery
		if i < len(admitRetries) {
			d = admitRetries[i]
		} else if g.mem.legacy() {
			// A legacy group has no log to say who is a member, so every
			// connected peer is asked: strangers too, which must not go
			// on all the while they stay connected.
			return
		}
		switch n.pauseOrKick(d, g.admitKick) {
		case pauseStopped:
			return
		case pauseKicked:
			i = -1 // the caller has just asked: start the fast retries again
			continue
		}
		if n.groupByID(g.rec.ID) != g || n.probeUnadmitted(g) == 0 {
			return // left, or everyone admitted
		}
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
	return n.pauseOrKick(d, nil) != pauseStopped // a nil channel never fires
}

type pauseEnd int

const (
	pauseDone    pauseEnd = iota // d passed
	pauseKicked                  // kick arrived first
	pauseStopped                 // the node closes
)

// pauseOrKick waits d, or less if kick is signalled or the node closes.
func (n *Node) pauseOrKick(d time.Duration, kick <-chan struct{}) pauseEnd {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
		return pauseStopped
	case <-kick:
		return pauseKicked
	case <-t.C:
		return pauseDone
	}
}

var admitRetries = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// admitRetryEvery paces the retries that follow admitRetries.
var admitRetryEvery = 30 * time.Second

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
