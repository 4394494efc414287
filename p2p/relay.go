package p2p

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// WithRelayService makes the host a public relay and bootstrap node: circuit
// relay v2 service (bounded by RelayResources), AutoNAT service, DHT server,
// and reachability forced to public (it must run on a reachable address).
func WithRelayService(on bool) Option { return func(c *config) { c.relayService = on } }

// WithStaticRelays adds relays the host reserves a slot on, first among
// candidates (bootstrap peers and connected relays found by the DHT follow),
// whatever AutoNAT says: see reserve.go.
func WithStaticRelays(peers ...peer.AddrInfo) Option {
	return func(c *config) { c.staticRelays = append(c.staticRelays, peers...) }
}

// WithNAT turns NAT traversal on or off (default on): AutoNAT v2, circuit
// relay client with automatic reservations, and hole punching (DCUtR).
func WithNAT(on bool) Option { return func(c *config) { c.nat = on } }

// RelayResources bounds what a relay node spends on others. A circuit has no
// per-connection data or time limit: libp2p runs no application protocol
// (GossipSub, sync) over a limited connection, so a limited relay could only
// help hole punching, not carry chat between peers whose NATs defeat it. The
// number of reservations and circuits is what is bounded, and the resource
// manager bounds memory and streams on top.
func RelayResources() relay.Resources {
	r := relay.DefaultResources()
	r.Limit = nil
	r.MaxReservations = 256
	r.MaxCircuits = 32
	r.BufferSize = 4096
	r.MaxReservationsPerIP = 16
	r.MaxReservationsPerASN = 64
	return r
}

// Reachability is what AutoNAT says about this host.
type Reachability string

// Reachability values.
const (
	ReachabilityUnknown Reachability = "unknown"
	ReachabilityPublic  Reachability = "public"
	ReachabilityPrivate Reachability = "private"
)

// Path says how a connected peer is reached.
type Path string

// Paths.
const (
	PathLAN         Path = "lan"          // found by mDNS, direct connection
	PathDirect      Path = "direct"       // direct connection
	PathHolePunched Path = "hole-punched" // direct connection made through a relay's coordination
	PathRelayed     Path = "relayed"      // only through a relay (/p2p-circuit)
)

// natOptions are the libp2p options for NAT traversal and relay service.
func (h *Host) natOptions(c *config) []libp2p.Option {
	var opts []libp2p.Option
	if c.nat {
		opts = append(opts,
			libp2p.EnableAutoNATv2(),
			libp2p.EnableHolePunching(holepunch.WithTracer(punchTracer{h})),
			libp2p.EnableAutoRelayWithPeerSource(h.relayCandidates,
				autorelay.WithMinCandidates(1),
				autorelay.WithBootDelay(30*time.Second)),
		)
	}
	if c.relayService {
		opts = append(opts,
			libp2p.EnableRelayService(relay.WithResources(RelayResources())),
			libp2p.EnableNATService(),
			libp2p.ForceReachabilityPublic(),
		)
	}
	return opts
}

// relayCandidates feeds autorelay: static relays, then bootstrap peers, then
// DHT routing table peers. autorelay keeps those that speak the relay protocol.
func (h *Host) relayCandidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	h.mu.Lock()
	cands := append(append([]peer.AddrInfo{}, h.staticRelays...), h.bootstrap...)
	d, lh := h.dht, h.h
	h.mu.Unlock()
	if d != nil && lh != nil {
		for _, p := range d.RoutingTable().ListPeers() {
			cands = append(cands, peer.AddrInfo{ID: p, Addrs: lh.Peerstore().Addrs(p)})
		}
	}
	out := make(chan peer.AddrInfo, min(len(cands), max(num, 0)))
	go func() {
		defer close(out)
		for i, ai := range cands {
			if i >= num {
				return
			}
			select {
			case out <- ai:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// punchTracer marks peers we reached by a successful hole punch.
type punchTracer struct{ h *Host }

func (t punchTracer) Trace(ev *holepunch.Event) {
	if ev.Type != holepunch.EndHolePunchEvtT {
		return
	}
	if e, ok := ev.Evt.(*holepunch.EndHolePunchEvt); ok && e.Success {
		t.h.markPunched(ev.Remote)
	}
}

func (h *Host) markPunched(p peer.ID) {
	h.mu.Lock()
	h.punched[p] = true
	h.mu.Unlock()
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// connOpened notes a direct connection to a peer we were reaching through a
// relay: that is the hole punch's result even when the tracer saw no event
// (the other side initiated it).
func (h *Host) connOpened(n network.Network, cn network.Conn) {
	if isRelayed(cn.RemoteMultiaddr()) {
		return
	}
	for _, c := range n.ConnsToPeer(cn.RemotePeer()) {
		if isRelayed(c.RemoteMultiaddr()) {
			h.markPunched(cn.RemotePeer())
			return
		}
	}
}

func (h *Host) pathTo(p peer.ID, conns []network.Conn, src Source) Path {
	direct, relayed := false, false
	for _, c := range conns {
		if isRelayed(c.RemoteMultiaddr()) {
			relayed = true
		} else {
			direct = true
		}
	}
	h.mu.Lock()
	punched := h.punched[p]
	h.mu.Unlock()
	switch {
	case relayed && !direct:
		return PathRelayed
	case punched:
		return PathHolePunched
	case src == SourceMDNS:
		return PathLAN
	default:
		return PathDirect
	}
}

// Reachability is the host's reachability as AutoNAT last reported it.
func (h *Host) Reachability() Reachability {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reach
}

// watchReachability follows AutoNAT's verdicts.
func (h *Host) watchReachability() {
	defer h.wg.Done()
	sub, err := h.h.EventBus().Subscribe(new(event.EvtLocalReachabilityChanged))
	if err != nil {
		h.log.Warn("subscribe to reachability", "err", err)
		return
	}
	defer sub.Close()
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-sub.Out():
			if !ok {
				return
			}
			r := ReachabilityUnknown
			switch ev.(event.EvtLocalReachabilityChanged).Reachability {
			case network.ReachabilityPublic:
				r = ReachabilityPublic
			case network.ReachabilityPrivate:
				r = ReachabilityPrivate
			}
			h.mu.Lock()
			h.reach = r
			h.mu.Unlock()
			h.log.Info("reachability changed", "reachability", r)
		}
	}
}
