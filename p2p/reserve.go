package p2p

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	ma "github.com/multiformats/go-multiaddr"
)

// Relay reservations kept whatever AutoNAT says. AutoRelay reserves only
// when the host finds itself private, but a public host can still be cut off
// from one peer (a censor dropping the path between two public addresses):
// with a reservation on a relay both reach, the peer dials it through the
// relay. The host advertises its circuit addresses (so invites, identify and
// DHT records carry them), and Connect falls back to circuits through its own
// relays when a direct dial fails. Hole punching still upgrades a relayed
// connection when the direct path works.

const (
	maxReservations   = 2                // relays held at once
	reserveEvery      = 20 * time.Second // how often holdings are checked
	reserveRenew      = 10 * time.Minute // renew a reservation this long before it expires
	reserveTimeout    = 30 * time.Second // one reservation attempt
	reserveRetry      = 30 * time.Second // first wait after a failed attempt (doubles)
	reserveRetryMax   = 10 * time.Minute
	maxFallbackRelays = 4 // relays tried when a direct dial fails
)

// reservation is a slot held on one relay.
type reservation struct {
	expires time.Time
	addrs   []ma.Multiaddr // the relay's addresses, /p2p/<relay> included
}

// reservations is the host's set of held relay slots.
type reservations struct {
	mu       sync.Mutex
	held     map[peer.ID]reservation
	failures map[peer.ID]int
	next     map[peer.ID]time.Time // no attempt on a failed candidate before
	kick     chan struct{}
}

func newReservations() *reservations {
	return &reservations{held: map[peer.ID]reservation{}, failures: map[peer.ID]int{},
		next: map[peer.ID]time.Time{}, kick: make(chan struct{}, 1)}
}

func (r *reservations) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// circuitAddrs are this host's addresses through the relays it holds slots on.
func (r *reservations) circuitAddrs() []ma.Multiaddr {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ma.Multiaddr
	for _, id := range r.idsLocked() {
		for _, a := range r.held[id].addrs {
			out = append(out, a.Encapsulate(circuitComponent))
		}
	}
	return out
}

var circuitComponent = ma.StringCast("/p2p-circuit")

// addrsFactory adds the circuit addresses of held reservations to what the
// host advertises: libp2p adds relay addresses only when AutoNAT says private.
func (h *Host) addrsFactory(addrs []ma.Multiaddr) []ma.Multiaddr {
	extra := h.rsvp.circuitAddrs()
	if len(extra) == 0 {
		return addrs
	}
	out := slices.Clone(addrs)
	for _, a := range extra {
		if !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	return out
}

// Reservations lists the relays this host holds a reservation on.
func (h *Host) Reservations() []peer.ID {
	h.rsvp.mu.Lock()
	defer h.rsvp.mu.Unlock()
	return h.rsvp.idsLocked()
}

// idsLocked lists the held relays in a stable order.
func (r *reservations) idsLocked() []peer.ID {
	ids := make([]peer.ID, 0, len(r.held))
	for id := range r.held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// supportsHop reports whether p is known to run a relay (known: false,
// true when identify has not told us yet).
func (h *Host) supportsHop(p peer.ID) (yes, known bool) {
	protos, err := h.h.Peerstore().GetProtocols(p)
	if err != nil || len(protos) == 0 {
		return false, false
	}
	return slices.Contains(protos, proto.ProtoIDv2Hop), true
}

// reserveCandidates lists relays to hold slots on, best first: static relays,
// bootstrap peers (relays learnt from invites are among them), then any
// connected peer that runs a relay (the DHT finds those).
func (h *Host) reserveCandidates() []peer.AddrInfo {
	h.mu.Lock()
	cands := mergeAddrInfos(nil, h.h.ID(), append(slices.Clone(h.staticRelays), h.bootstrap...)...)
	h.mu.Unlock()
	cands = slices.DeleteFunc(cands, func(ai peer.AddrInfo) bool {
		hop, known := h.supportsHop(ai.ID)
		return known && !hop
	})
	for _, p := range h.h.Network().Peers() {
		if hop, _ := h.supportsHop(p); hop && !slices.ContainsFunc(cands, func(ai peer.AddrInfo) bool { return ai.ID == p }) {
			cands = append(cands, peer.AddrInfo{ID: p})
		}
	}
	return cands
}

// reserveLoop keeps up to maxReservations relay slots, renewing them before
// they expire and replacing those whose relay went away.
func (h *Host) reserveLoop() {
	defer h.wg.Done()
	sub, err := h.h.EventBus().Subscribe([]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerConnectednessChanged)})
	if err != nil {
		h.log.Warn("subscribe to peer events", "err", err)
		return
	}
	defer sub.Close()
	t := time.NewTicker(reserveEvery)
	defer t.Stop()
	for {
		h.reserveOnce()
		for wait := true; wait; {
			select {
			case <-h.ctx.Done():
				return
			case <-t.C:
				wait = false
			case <-h.rsvp.kick:
				wait = false
			case ev, ok := <-sub.Out():
				if !ok {
					return
				}
				wait = !h.reserveEvent(ev)
			}
		}
	}
}

// reserveEvent reports whether ev calls for a look at the holdings: a relay
// identified while slots are free, or a held relay gone.
func (h *Host) reserveEvent(ev any) bool {
	h.rsvp.mu.Lock()
	defer h.rsvp.mu.Unlock()
	switch e := ev.(type) {
	case event.EvtPeerIdentificationCompleted:
		_, held := h.rsvp.held[e.Peer]
		return !held && len(h.rsvp.held) < maxReservations && slices.Contains(e.Protocols, proto.ProtoIDv2Hop)
	case event.EvtPeerConnectednessChanged:
		_, held := h.rsvp.held[e.Peer]
		return held && e.Connectedness != network.Connected
	}
	return false
}

func (h *Host) reserveOnce() {
	now := time.Now()
	r := h.rsvp
	r.mu.Lock()
	changed := false
	for id, rv := range r.held {
		// The relay drops a slot when its connection to us closes.
		if !h.IsConnected(id) || now.After(rv.expires) {
			delete(r.held, id)
			changed = true
		}
	}
	var renew []peer.ID
	for id, rv := range r.held {
		if rv.expires.Sub(now) < reserveRenew {
			renew = append(renew, id)
		}
	}
	r.mu.Unlock()
	for _, id := range renew {
		h.reserve(peer.AddrInfo{ID: id})
	}
	for _, ai := range h.reserveCandidates() {
		r.mu.Lock()
		_, held := r.held[ai.ID]
		full := len(r.held) >= maxReservations
		due := !now.Before(r.next[ai.ID])
		r.mu.Unlock()
		if full {
			break
		}
		if held || !due {
			continue
		}
		changed = h.reserve(ai) || changed
	}
	if changed {
		h.log.Debug("relay reservations", "relays", h.Reservations())
	}
}

// reserve asks ai for a slot (renewing one held) and reports whether the
// set of held relays changed.
func (h *Host) reserve(ai peer.AddrInfo) bool {
	ctx, cancel := context.WithTimeout(h.ctx, reserveTimeout)
	defer cancel()
	rsvp, err := client.Reserve(ctx, h.h, ai)
	r := h.rsvp
	r.mu.Lock()
	defer r.mu.Unlock()
	_, was := r.held[ai.ID]
	if err != nil {
		delete(r.held, ai.ID)
		r.failures[ai.ID]++
		r.next[ai.ID] = time.Now().Add(min(reserveRetry<<min(r.failures[ai.ID]-1, 10), reserveRetryMax))
		h.log.Debug("relay reservation failed", "relay", ai.ID, "err", err)
		return was
	}
	delete(r.failures, ai.ID)
	delete(r.next, ai.ID)
	r.held[ai.ID] = reservation{expires: rsvp.Expiration, addrs: h.relayAddrs(ai.ID, rsvp.Addrs)}
	if !was {
		h.log.Info("relay reservation", "relay", ai.ID, "expires", rsvp.Expiration)
	}
	return !was
}

// relayAddrs are the addresses to advertise for relay p: those it vouched
// for in the reservation (its public ones) or, if none, the ones we reach it
// at. Each ends in /p2p/<relay>.
func (h *Host) relayAddrs(p peer.ID, vouched []ma.Multiaddr) []ma.Multiaddr {
	addrs := slices.Clone(vouched)
	if len(addrs) == 0 {
		addrs = h.connAddrs(p)
	}
	id := ma.StringCast("/p2p/" + p.String())
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		if isRelayed(a) {
			continue
		}
		if rest, last := ma.SplitLast(a); last != nil && last.Protocol().Code == ma.P_P2P {
			a = rest
		}
		out = append(out, a.Encapsulate(id))
	}
	return out
}

// connAddrs are the remote addresses of our direct connections to p.
func (h *Host) connAddrs(p peer.ID) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, c := range h.h.Network().ConnsToPeer(p) {
		if a := c.RemoteMultiaddr(); !isRelayed(a) && !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	return out
}

// fallbackCircuits are circuit addresses for p through relays we are
// connected to: those we hold slots on first (a peer that cannot reach us
// directly reserves where we do when it shares our bootstrap), then other
// connected relays. The relay refuses if p holds no slot there.
func (h *Host) fallbackCircuits(p peer.ID) []ma.Multiaddr {
	relays := h.Reservations()
	for _, q := range h.h.Network().Peers() {
		if hop, _ := h.supportsHop(q); hop && !slices.Contains(relays, q) {
			relays = append(relays, q)
		}
	}
	var out []ma.Multiaddr
	n := 0
	for _, rl := range relays {
		if rl == p || n == maxFallbackRelays {
			continue
		}
		addrs := h.relayAddrs(rl, h.connAddrs(rl))
		for _, a := range addrs {
			out = append(out, a.Encapsulate(circuitComponent))
		}
		if len(addrs) > 0 {
			n++
		}
	}
	return out
}

// AwaitRelayAddr waits until this host holds a relay slot, so that the
// addresses it hands out (an invite) include a /p2p-circuit one, or until
// ctx ends. It returns at once when a slot is held or no relay candidate is
// known (a LAN without relays: direct addresses are all there is).
func (h *Host) AwaitRelayAddr(ctx context.Context) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if len(h.rsvp.circuitAddrs()) > 0 {
			return true
		}
		if len(h.reserveCandidates()) == 0 {
			return false
		}
		h.rsvp.poke()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
