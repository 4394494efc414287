package p2p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// Pubsub only with admitted peers.
//
// GossipSub tells every peer it talks to all the topics this node is
// subscribed to (its hello packet ignores WithPeerFilter), and floods own
// messages to every subscribed peer. With WithPubSubGate, GossipSub runs on
// a view of the host in which only peers admitted by AdmitPubSub exist: it
// opens no stream to anyone else, so strangers (LAN nodes found by mDNS, DHT
// neighbours, any libp2p peer that connects) are told no topic and sent no
// message, and a stream they open is refused. The caller decides who is
// admitted (the node: a peer that proved membership of a shared group in a
// sync handshake). Admission lasts while the peer stays connected.

// admitWait bounds how long an inbound pubsub stream waits for its peer to
// be admitted: the two sides finish the membership proof a moment apart.
const admitWait = 10 * time.Second

// ErrNotAdmitted refuses a pubsub stream to a peer that is not admitted.
var ErrNotAdmitted = errors.New("p2p: peer not admitted to pubsub")

// WithPubSubGate runs pubsub only with peers admitted by AdmitPubSub.
func WithPubSubGate(on bool) Option { return func(c *config) { c.pubsubGate = on } }

type pubsubGate struct {
	h      host.Host
	bus    event.Bus
	em     event.Emitter // EvtPeerIdentificationCompleted
	emProt event.Emitter // EvtPeerProtocolsUpdated

	mu       sync.Mutex
	admitted map[peer.ID]bool
	changed  chan struct{} // closed and replaced on every admission
}

func newPubsubGate(h host.Host) (*pubsubGate, error) {
	bus := eventbus.NewBus()
	em, err := bus.Emitter(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return nil, err
	}
	emProt, err := bus.Emitter(new(event.EvtPeerProtocolsUpdated))
	if err != nil {
		return nil, err
	}
	return &pubsubGate{h: h, bus: bus, em: em, emProt: emProt, admitted: map[peer.ID]bool{}, changed: make(chan struct{})}, nil
}

// forward passes the host's identify events about admitted peers on to
// pubsub (a peer admitted before identify finished is learnt from them).
func (g *pubsubGate) forward(ctx context.Context, sub event.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.Out():
			switch ev := ev.(type) {
			case event.EvtPeerIdentificationCompleted:
				if g.isAdmitted(ev.Peer) {
					_ = g.em.Emit(ev)
				}
			case event.EvtPeerProtocolsUpdated:
				if g.isAdmitted(ev.Peer) {
					_ = g.emProt.Emit(ev)
				}
			}
		}
	}
}

func (g *pubsubGate) isAdmitted(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitted[p]
}

// admit lets p into pubsub and tells pubsub it is there (pubsub learns new
// peers from identify events).
func (g *pubsubGate) admit(p peer.ID) {
	if g.h.Network().Connectedness(p) != network.Connected {
		return
	}
	g.mu.Lock()
	if g.admitted[p] {
		g.mu.Unlock()
		return
	}
	g.admitted[p] = true
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	protos, _ := g.h.Peerstore().GetProtocols(p)
	_ = g.em.Emit(event.EvtPeerIdentificationCompleted{Peer: p, Protocols: protos})
}

// forget drops p's admission (its last connection closed).
func (g *pubsubGate) forget(p peer.ID) {
	g.mu.Lock()
	delete(g.admitted, p)
	g.mu.Unlock()
}

// waitAdmitted waits until p is admitted, the context ends or admitWait passes.
func (g *pubsubGate) waitAdmitted(ctx context.Context, p peer.ID) bool {
	t := time.NewTimer(admitWait)
	defer t.Stop()
	for {
		g.mu.Lock()
		ok, ch := g.admitted[p], g.changed
		g.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// gatedHost is the host as pubsub sees it.
type gatedHost struct {
	host.Host
	g   *pubsubGate
	ctx context.Context
}

func (v gatedHost) Network() network.Network { return gatedNetwork{v.Host.Network(), v.g} }
func (v gatedHost) EventBus() event.Bus      { return v.g.bus }

func (v gatedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if !v.g.isAdmitted(p) {
		return nil, ErrNotAdmitted
	}
	return v.Host.NewStream(ctx, p, pids...)
}

func (v gatedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	v.Host.SetStreamHandler(pid, v.gated(handler))
}

func (v gatedHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	v.Host.SetStreamHandlerMatch(pid, m, v.gated(handler))
}

func (v gatedHost) gated(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !v.g.waitAdmitted(v.ctx, s.Conn().RemotePeer()) {
			s.Reset()
			return
		}
		handler(s)
	}
}

// gatedNetwork shows pubsub only admitted peers as connected.
type gatedNetwork struct {
	network.Network
	g *pubsubGate
}

func (n gatedNetwork) Connectedness(p peer.ID) network.Connectedness {
	if !n.g.isAdmitted(p) {
		return network.NotConnected
	}
	return n.Network.Connectedness(p)
}

func (n gatedNetwork) Peers() []peer.ID {
	var out []peer.ID
	for _, p := range n.Network.Peers() {
		if n.g.isAdmitted(p) {
			out = append(out, p)
		}
	}
	return out
}

// AdmitPubSub lets a connected peer into pubsub (a no-op without
// WithPubSubGate): from now on it is told this node's topics and takes
// part in their meshes, until its last connection closes.
func (h *Host) AdmitPubSub(p peer.ID) {
	if h.gate != nil && p != h.h.ID() {
		h.gate.admit(p)
	}
}

// PubSubAdmitted reports whether p may speak pubsub with this host.
func (h *Host) PubSubAdmitted(p peer.ID) bool {
	return h.gate == nil || h.gate.isAdmitted(p)
}
