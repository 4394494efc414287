package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// CutOffFor is how long a peer whose router score fell below the graylist,
// after sending messages our validator refused, stays disconnected and
// refused. Graylisting alone stops GossipSub from
// processing its RPCs, but the connection still carries them: decrypting
// and decoding a flood costs every honest message CPU time. Cutting the
// connection ends that cost. Scores are retained (RetainScore), so a peer
// that comes back still starts low.
const CutOffFor = 10 * time.Minute

// banList is the host's connection gater: it refuses dials to and secured
// connections from peers cut off for misbehaviour, until their ban ends.
type banList struct {
	now func() time.Time

	mu    sync.Mutex
	until map[peer.ID]time.Time
	total uint64
}

func newBanList() *banList {
	return &banList{now: time.Now, until: map[peer.ID]time.Time{}}
}

// ban refuses p for d; it reports whether p was not banned already.
func (b *banList) ban(p peer.ID, d time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	fresh := !b.activeLocked(p, now)
	if fresh {
		b.total++
	}
	b.until[p] = now.Add(d)
	for q, t := range b.until { // bounded by the peers that misbehaved lately
		if !t.After(now) {
			delete(b.until, q)
		}
	}
	return fresh
}

func (b *banList) activeLocked(p peer.ID, now time.Time) bool {
	t, ok := b.until[p]
	return ok && t.After(now)
}

func (b *banList) banned(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.activeLocked(p, b.now())
}

// count is how many cut-offs there have been.
func (b *banList) count() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

func (b *banList) InterceptPeerDial(p peer.ID) bool             { return !b.banned(p) }
func (b *banList) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (b *banList) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (b *banList) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
func (b *banList) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !b.banned(p)
}

// cutOffLoop disconnects and bans peers the router has graylisted that also
// forwarded messages our validator refused: proven bad, not merely fast (a
// fast honest peer is throttled and, at worst, graylisted for a while). It
// runs apart from pubsub's score inspector, which must not block on the
// network.
func (h *Host) cutOffLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.scores.updated:
		}
		for _, p := range h.scores.below(GraylistThreshold) {
			if _, rejected := h.flood.stats(p); rejected == 0 {
				continue
			}
			if h.bans.ban(p, CutOffFor) {
				h.log.Warn("peer cut off: its score fell below the graylist threshold", "peer", p, "for", CutOffFor)
			}
			h.h.Network().ClosePeer(p)
		}
	}
}

// gater is the host's connection gater: the ban list, plus the extra gater
// set by withGater (tests use one to block a direct path).
func (h *Host) gater(c *config) connmgr.ConnectionGater {
	if c.extraGater == nil {
		return h.bans
	}
	return gaters{h.bans, c.extraGater}
}

// withGater adds a connection gater consulted after the ban list.
func withGater(g connmgr.ConnectionGater) Option { return func(c *config) { c.extraGater = g } }

// gaters allows what every one of them allows.
type gaters []connmgr.ConnectionGater

func (gs gaters) InterceptPeerDial(p peer.ID) bool {
	for _, g := range gs {
		if !g.InterceptPeerDial(p) {
			return false
		}
	}
	return true
}

func (gs gaters) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	for _, g := range gs {
		if !g.InterceptAddrDial(p, a) {
			return false
		}
	}
	return true
}

func (gs gaters) InterceptAccept(cm network.ConnMultiaddrs) bool {
	for _, g := range gs {
		if !g.InterceptAccept(cm) {
			return false
		}
	}
	return true
}

func (gs gaters) InterceptSecured(d network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	for _, g := range gs {
		if !g.InterceptSecured(d, p, cm) {
			return false
		}
	}
	return true
}

func (gs gaters) InterceptUpgraded(cn network.Conn) (bool, control.DisconnectReason) {
	for _, g := range gs {
		if ok, r := g.InterceptUpgraded(cn); !ok {
			return false, r
		}
	}
	return true, 0
}
