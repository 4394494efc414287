package node

// Pubsub runs only with peers that proved a shared group in a sync
// handshake (p2p.WithPubSubGate). A proof fails when the responder does not
// yet know the requester as a member (a joiner syncing with a member that
// has not received its admission); nothing on pubsub can retry it, since
// the two are not pubsub peers. So whenever the node opens a group or its
// member list changes, connected peers not yet admitted are asked again.

// syncUnadmitted requests a sync of g with every connected peer that is not
// admitted to pubsub (strangers refuse it, as on connect).
func (n *Node) syncUnadmitted(g *group) {
	h := n.host
	for _, p := range h.Libp2p().Network().Peers() {
		if !h.PubSubAdmitted(p) {
			n.sync.Request(p, g.sync)
		}
	}
}
