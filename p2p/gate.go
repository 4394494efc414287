package p2p

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// Pubsub only with admitted peers, and of each topic only with the peers
// admitted to it.
//
// GossipSub tells every peer it talks to all the topics this node is
// subscribed to (its hello packet ignores WithPeerFilter), and floods own
// messages to every subscribed peer. With WithPubSubGate, GossipSub runs on
// a view of the host in which only peers admitted by AdmitPubSub or
// AdmitPubSubTopic exist: it opens no stream to anyone else, so strangers
// (LAN nodes found by mDNS, DHT neighbours, any libp2p peer that connects)
// are told no topic and sent no message, and a stream they open is refused.
//
// Within that, a peer admitted to some topics only is told of those alone:
// every RPC pubsub writes to it passes through a filter (topicStream) that
// drops the subscriptions, messages and control entries of other topics,
// and a subscription held back is told the moment the peer is admitted to
// its topic. So a member of one shared group does not learn the names of
// this node's other groups. The caller decides who is admitted to what,
// with opaque topic names (the node: a peer that proved membership of a
// group in a sync handshake, to that group's topic). Admission lasts while
// the peer stays connected.

// admitWait bounds how long an inbound pubsub stream waits for its peer to
// be admitted: the two sides finish the membership proof a moment apart.
// (A var: tests shorten it.)
var admitWait = 10 * time.Second

// reviveEvery paces the check for admitted peers that talk pubsub to us
// while our pubsub has no stream to them (forward, revive).
var reviveEvery = 15 * time.Second

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
	admitted map[peer.ID]*admission
	streams  map[peer.ID]*topicStream // pubsub's outbound stream to each peer
	inbound  map[peer.ID]int          // pubsub streams from each peer that passed the gate and are open
	refused  atomic.Uint64            // inbound pubsub streams reset, their peer not admitted in time
	changed  chan struct{}            // closed and replaced on every admission
	protos   []protocol.ID            // pubsub's protocols (the handlers it set)
}

// admission is what one peer may be told.
type admission struct {
	all    bool            // every topic (AdmitPubSub)
	topics map[string]bool // these topics (AdmitPubSubTopic)
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
	return &pubsubGate{h: h, bus: bus, em: em, emProt: emProt, admitted: map[peer.ID]*admission{},
		streams: map[peer.ID]*topicStream{}, inbound: map[peer.ID]int{}, changed: make(chan struct{})}, nil
}

// forward passes the host's identify events about admitted peers on to
// pubsub (those about others are dropped: admit tells pubsub of a peer),
// and every reviveEvery revives pubsub's peers it gave up on.
func (g *pubsubGate) forward(ctx context.Context, sub event.Subscription) {
	defer sub.Close()
	tick := time.NewTicker(reviveEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.revive()
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
	return g.admitted[p] != nil
}

// allowed reports whether p may be told of topic.
func (g *pubsubGate) allowed(p peer.ID, topic string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.admitted[p]
	return a != nil && (a.all || a.topics[topic])
}

func (g *pubsubGate) allowsAll(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.admitted[p]
	return a != nil && a.all
}

// admit lets p into pubsub for topic ("": every topic), tells pubsub it is
// there (pubsub learns new peers from identify events) and tells p the
// subscriptions it was not told before.
//
// The event names pubsub's own protocols, not the peerstore's list for p:
// that list can lack them for good. Identify's response and its push from
// p race (a node's first snapshot, taken before pubsub set its handlers,
// can answer a request while the push of the full one is under way), and
// whichever is read last replaces the list: a stale response read after
// the push leaves p without pubsub's protocols while pubsub, ungated, would
// have learnt p from the push. The events forward withheld before the
// admission are gone, so pubsub would never open a stream to p nor tell it
// a topic. A peer admitted proved membership of a group, so it speaks
// pubsub; one that does not fails the stream's negotiation, and pubsub
// drops it.
func (g *pubsubGate) admit(p peer.ID, topic string) {
	if g.h.Network().Connectedness(p) != network.Connected {
		return
	}
	g.mu.Lock()
	a := g.admitted[p]
	fresh := a == nil
	if fresh {
		a = &admission{topics: map[string]bool{}}
		g.admitted[p] = a
		close(g.changed)
		g.changed = make(chan struct{})
	}
	if topic == "" {
		a.all = true
	} else {
		a.topics[topic] = true
	}
	st := g.streams[p]
	protos := g.protos
	g.mu.Unlock()
	if fresh {
		_ = g.em.Emit(event.EvtPeerIdentificationCompleted{Peer: p, Protocols: protos})
	}
	if st != nil {
		st.announceHeld()
	}
}

// revive tells pubsub again of each admitted peer that has a pubsub stream
// open to us while pubsub's own stream to it is gone.
//
// A peer whose stream the gate reset (it was not admitted within
// admitWait) is dead to the opener's pubsub, which reopens with backoff a
// few times and then forgets the peer until a new identify event for it.
// So when we admitted a peer some 45 s or more before it admitted us, our
// pubsub never writes to it again while they stay connected: it gets our
// messages only through other members. Its stream to us, once it admits
// us, is the sign that it would now take ours. Pubsub ignores the event
// for a peer it still has, so a revival during its own backoff is harmless.
func (g *pubsubGate) revive() {
	g.mu.Lock()
	var lost []peer.ID
	for p, n := range g.inbound {
		if st := g.streams[p]; n > 0 && g.admitted[p] != nil && (st == nil || st.dead.Load()) {
			lost = append(lost, p)
		}
	}
	protos := g.protos
	g.mu.Unlock()
	for _, p := range lost {
		_ = g.em.Emit(event.EvtPeerIdentificationCompleted{Peer: p, Protocols: protos})
	}
}

// forget drops p's admission (its last connection closed).
func (g *pubsubGate) forget(p peer.ID) {
	g.mu.Lock()
	delete(g.admitted, p)
	delete(g.streams, p)
	g.mu.Unlock()
	// inbound is not cleared: each open stream's handler takes itself off
	// when the stream ends, and clearing it here would let a handler of the
	// old connection take a new connection's stream off the count.
}

// waitAdmitted waits until p is admitted, the context ends or admitWait passes.
func (g *pubsubGate) waitAdmitted(ctx context.Context, p peer.ID) bool {
	t := time.NewTimer(admitWait)
	defer t.Stop()
	for {
		g.mu.Lock()
		ok, ch := g.admitted[p] != nil, g.changed
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

// NewStream opens pubsub's stream to an admitted peer, through the topic
// filter (pubsub writes to a peer only on the stream it opened).
func (v gatedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if !v.g.isAdmitted(p) {
		return nil, ErrNotAdmitted
	}
	s, err := v.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	ts := &topicStream{Stream: s, g: v.g, p: p, subs: map[string]subState{}}
	v.g.mu.Lock()
	v.g.streams[p] = ts
	v.g.mu.Unlock()
	return ts, nil
}

func (v gatedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	v.g.addProtocol(pid)
	v.Host.SetStreamHandler(pid, v.gated(handler))
}

func (v gatedHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	v.g.addProtocol(pid)
	v.Host.SetStreamHandlerMatch(pid, m, v.gated(handler))
}

// addProtocol records a protocol pubsub speaks (admit names them).
func (g *pubsubGate) addProtocol(pid protocol.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Contains(g.protos, pid) {
		// A new slice: admit emits the old one outside the lock.
		g.protos = append(slices.Clip(g.protos), pid)
	}
}

func (v gatedHost) gated(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		p := s.Conn().RemotePeer()
		if !v.g.waitAdmitted(v.ctx, p) {
			v.g.refused.Add(1)
			s.Reset()
			return
		}
		v.g.countInbound(p, 1)
		defer v.g.countInbound(p, -1)
		handler(s) // pubsub reads the stream until it ends
	}
}

func (g *pubsubGate) countInbound(p peer.ID, d int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.inbound[p] + d; n > 0 {
		g.inbound[p] = n
	} else {
		delete(g.inbound, p)
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

// AdmitPubSub lets a connected peer into pubsub for every topic (a no-op
// without WithPubSubGate): from now on it is told this node's topics and
// takes part in their meshes, until its last connection closes.
func (h *Host) AdmitPubSub(p peer.ID) {
	if h.gate != nil && p != h.h.ID() {
		h.gate.admit(p, "")
	}
}

// AdmitPubSubTopic lets a connected peer into pubsub for topic only (a
// no-op without WithPubSubGate): it is told this node's subscription to
// topic (and to no topic it is not admitted to), and takes part in that
// topic's mesh, until its last connection closes.
func (h *Host) AdmitPubSubTopic(p peer.ID, topic string) {
	if h.gate != nil && p != h.h.ID() && topic != "" {
		h.gate.admit(p, topic)
	}
}

// PubSubTopicAdmitted reports whether p may be told of topic.
func (h *Host) PubSubTopicAdmitted(p peer.ID, topic string) bool {
	return h.gate == nil || h.gate.allowed(p, topic)
}

// PubSubAdmitted reports whether p may speak pubsub with this host.
func (h *Host) PubSubAdmitted(p peer.ID) bool {
	return h.gate == nil || h.gate.isAdmitted(p)
}
