package node

import "sync/atomic"

// counters are cumulative totals for metrics. Each is bumped once per
// batch (one atomic add), never per message on a lock, so the message path
// does not pay for them; Counters reads them at scrape time.
type counters struct {
	sent           atomic.Uint64 // our own messages, stored and handed to gossip
	receivedGossip atomic.Uint64 // verified messages from gossip reaching the store (duplicates included)
	receivedSync   atomic.Uint64 // the same from history sync
	stored         atomic.Uint64 // messages newly written to the store (own and received)
}

// sentN counts k of our own messages, which are all new to the store.
func (c *counters) sentN(k int) {
	c.sent.Add(uint64(k))
	c.stored.Add(uint64(k))
}

// receivedN counts k verified messages from the network, of which added
// were new; viaSync tells history sync from gossip.
func (c *counters) receivedN(k, added int, viaSync bool) {
	if viaSync {
		c.receivedSync.Add(uint64(k))
	} else {
		c.receivedGossip.Add(uint64(k))
	}
	c.stored.Add(uint64(added))
}

// Counters are the node's cumulative totals since Start, for metrics.
type Counters struct {
	MessagesSent           uint64 `json:"messages_sent"`            // our messages stored and published
	MessagesReceivedGossip uint64 `json:"messages_received_gossip"` // verified messages from gossip, duplicates included
	MessagesReceivedSync   uint64 `json:"messages_received_sync"`   // verified messages pulled by history sync
	MessagesStored         uint64 `json:"messages_stored"`          // messages new to the store (sent + received new)
	SyncPulls              uint64 `json:"sync_pulls"`               // history pulls finished (or failed)
	SyncBytes              uint64 `json:"sync_bytes"`               // sync stream bytes of those pulls, both ways
}

// Counters returns the cumulative totals. It takes no lock of the message
// path: each figure is one atomic load.
func (n *Node) Counters() Counters {
	c := Counters{
		MessagesSent: n.counters.sent.Load(), MessagesReceivedGossip: n.counters.receivedGossip.Load(),
		MessagesReceivedSync: n.counters.receivedSync.Load(), MessagesStored: n.counters.stored.Load(),
	}
	n.mu.Lock()
	sy := n.sync
	n.mu.Unlock()
	if sy != nil {
		c.SyncPulls, c.SyncBytes = sy.Pulls(), sy.PulledBytes()
	}
	return c
}

// DropReasons lists every reason Drops and Status.Drops can report, "other"
// last, so that a metric can show each at zero before it first happens.
func DropReasons() []string {
	out := make([]string, 0, len(dropReasons)+1)
	for _, r := range dropReasons {
		out = append(out, r.Error())
	}
	return append(out, "other")
}
