package node

import (
	"sort"
	"time"

	"github.com/parley-chat/parley/store"

	"github.com/parley-chat/parley/p2p"
)

// PeerInfo describes a connected peer for `parley peers`.
type PeerInfo struct {
	ID        string         `json:"id"`
	Via       string         `json:"via"`  // how we found it: "mdns", "direct", "dht" or "bootstrap"
	Path      string         `json:"path"` // how it is reached: "lan", "direct", "hole-punched" or "relayed"
	Score     float64        `json:"score"`
	Throttled uint64         `json:"throttled,omitempty"` // its messages dropped by the rate limit
	Addrs     []string       `json:"addrs"`
	LatencyMs float64        `json:"latency_ms"` // 0: not measured yet
	Sync      []SyncProgress `json:"sync,omitempty"`
}

// Peers lists connected peers with how they are reached, latency and sync state.
func (n *Node) Peers() []PeerInfo {
	h := n.Host()
	if h == nil {
		return nil
	}
	var progress []SyncProgress
	if n.sync != nil {
		progress = n.sync.Progress()
	}
	var out []PeerInfo
	for _, p := range h.Peers() {
		pi := PeerInfo{ID: p.ID.String(), Via: string(p.Source), Path: string(p.Path), Score: p.Score, Throttled: p.Throttled,
			LatencyMs: float64(p.Latency) / float64(time.Millisecond)}
		for _, a := range p.Addrs {
			pi.Addrs = append(pi.Addrs, a.String())
		}
		for _, sp := range progress {
			if sp.Peer == pi.ID {
				pi.Sync = append(pi.Sync, sp)
			}
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Status is the node's overall state for `parley status` and the UI.
type Status struct {
	ID            string            `json:"id"`
	Addrs         []string          `json:"addrs"`
	Reachability  string            `json:"reachability"` // AutoNAT: "public", "private" or "unknown"
	DHTPeers      int               `json:"dht_peers"`    // DHT routing table size
	Peers         int               `json:"peers"`
	Groups        int               `json:"groups"`
	Drops         map[string]uint64 `json:"drops"` // refused network input, by reason
	EventsDropped uint64            `json:"events_dropped"`
	QueueDrops    p2p.QueueDrops    `json:"queue_drops"` // GossipSub queue-full drops (sync recovers them)
	Sync          []SyncProgress    `json:"sync,omitempty"`
	Encrypted     bool              `json:"encrypted"` // the store is encrypted at rest (a passphrase)
	// Disk is the profile's free space; Full: new messages and files are
	// refused until space is freed; Low: warn.
	Disk store.DiskSpace `json:"disk"`
}

// Status reports the node's identity, addresses, counters and sync state.
func (n *Node) Status() Status {
	s := Status{ID: n.self.String(), Groups: len(n.allGroups()), Drops: n.drops.snapshot(), EventsDropped: n.events.dropped.Load(),
		Encrypted: n.st.Encrypted(), Disk: n.st.DiskSpace()}
	h := n.Host()
	if h == nil {
		return s
	}
	s.Reachability, s.DHTPeers, s.Peers, s.QueueDrops = string(h.Reachability()), h.DHTPeers(), len(h.Peers()), h.QueueDrops()
	if n.sync != nil {
		s.Sync = n.sync.Progress()
	}
	for _, a := range h.Addrs() {
		s.Addrs = append(s.Addrs, a.String())
	}
	return s
}

// Drops returns the refused-input counters by reason.
func (n *Node) Drops() map[string]uint64 { return n.drops.snapshot() }
