package p2p

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// Flood control defaults. A peer forwards us every message of every group
// we share with it, and a message throttled here is lost to gossip (pubsub
// has already marked it seen; sync fetches it later), so the per-peer limit
// sits above what a busy group's honest members produce: each pubsub
// message is a send batch, and an author publishes at most one per commit
// (about 1,000/s on this class of machine). What a junk flood costs before
// refusal is one AEAD open; signature work needs the group key.
const (
	DefaultPeerRate  = 5000  // pubsub messages per second, per forwarding peer
	DefaultPeerBurst = 10000 // messages accepted at once above the rate

	// penaltyHalfLife is how fast a throttled peer's penalty fades.
	penaltyHalfLife = 30 * time.Second
	// penaltyCap bounds the application score (well below the graylist).
	penaltyCap = 1000
	// limiterIdle: a peer's bucket is forgotten after this long unused.
	limiterIdle = 10 * time.Minute
)

// Score thresholds (GossipSub v1.1). A peer below GossipThreshold gets no
// gossip from us and its gossip is ignored; below PublishThreshold we do not
// flood-publish to it; below GraylistThreshold its RPCs are dropped unread.
const (
	GossipThreshold   = -10
	PublishThreshold  = -50
	GraylistThreshold = -80
)

// peerScoreParams are the router-wide score parameters. Topic parameters are
// added per topic at Join (topicScoreParams). IP colocation is off: members
// behind one NAT, and every test on loopback, share an address.
func peerScoreParams(app func(peer.ID) float64) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:                    map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:             50,
		AppSpecificScore:          app,
		AppSpecificWeight:         1,
		IPColocationFactorWeight:  0,
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               30 * time.Minute, // a flooder cannot reset its score by reconnecting
		SeenMsgTTL:                SeenMessagesTTL,
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           10,
		OpportunisticGraftThreshold: 3,
	}
}

// topicScoreParams suit a topic whose messages the application validates:
// a Reject (a message that fails decryption, schema or signature: an honest
// peer never forwards one, since it validates before forwarding) costs a lot
// (the penalty is squared: two put a peer below the publish threshold, three
// below the graylist), and first deliveries earn a little. Mesh delivery
// rates are not scored: a chat group is often quiet, and a quiet mesh peer
// is not a misbehaving one.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  300,
		FirstMessageDeliveriesWeight:   0.5,
		FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:      100,
		InvalidMessageDeliveriesWeight: -15,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
	}
}

// floodGuard throttles each forwarding peer with a token bucket in the
// validator path: over the limit a message is dropped (Ignore: no delivery,
// no forwarding) before any decryption, and the excess feeds the peer's
// application score, so a sustained flooder is pruned from the mesh and then
// graylisted. An honest peer under the limit sees no delay: Allow never waits.
type floodGuard struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu    sync.Mutex
	peers map[peer.ID]*peerFlood
}

type peerFlood struct {
	lim       *rate.Limiter
	penalty   float64 // decaying count of throttled messages
	decayedAt time.Time
	lastSeen  time.Time
	throttled uint64 // total, for diagnostics
	rejected  uint64 // total Reject verdicts for messages it forwarded
}

func newFloodGuard(perSec float64, burst int) *floodGuard {
	l := rate.Limit(perSec)
	if perSec <= 0 {
		l = rate.Inf
	}
	return &floodGuard{limit: l, burst: max(burst, 1), now: time.Now, peers: map[peer.ID]*peerFlood{}}
}

func (g *floodGuard) get(p peer.ID, now time.Time) *peerFlood {
	pf, ok := g.peers[p]
	if !ok {
		pf = &peerFlood{lim: rate.NewLimiter(g.limit, g.burst), decayedAt: now}
		g.peers[p] = pf
		if len(g.peers)%256 == 0 {
			g.sweep(now)
		}
	}
	pf.lastSeen = now
	return pf
}

// allow reports whether a message forwarded by p may be validated.
func (g *floodGuard) allow(p peer.ID) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	pf := g.get(p, now)
	if pf.lim.AllowN(now, 1) {
		return true
	}
	pf.decay(now)
	pf.penalty = min(pf.penalty+1, penaltyCap)
	pf.throttled++
	return false
}

func (g *floodGuard) rejected(p peer.ID) {
	g.mu.Lock()
	g.get(p, g.now()).rejected++
	g.mu.Unlock()
}

func (pf *peerFlood) decay(now time.Time) {
	if dt := now.Sub(pf.decayedAt); dt > 0 {
		pf.penalty *= math.Exp2(-float64(dt) / float64(penaltyHalfLife))
		pf.decayedAt = now
	}
}

// score is the application-specific score: minus the decaying number of
// throttled messages, so a burst of a hundred over the limit is enough to
// graylist a peer for a minute or two.
func (g *floodGuard) score(p peer.ID) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	pf, ok := g.peers[p]
	if !ok || pf.penalty == 0 {
		// Pubsub asks on every RPC from p: an honest peer never throttled
		// costs a map look-up, no clock read or decay.
		return 0
	}
	pf.decay(g.now())
	if pf.penalty < 0.5 {
		return 0
	}
	return -pf.penalty
}

// stats returns the throttled and rejected totals for p.
func (g *floodGuard) stats(p peer.ID) (throttled, rejected uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if pf, ok := g.peers[p]; ok {
		return pf.throttled, pf.rejected
	}
	return 0, 0
}

// sweep forgets idle peers without a penalty (under mu).
func (g *floodGuard) sweep(now time.Time) {
	for p, pf := range g.peers {
		pf.decay(now)
		if now.Sub(pf.lastSeen) > limiterIdle && pf.penalty < 0.5 {
			delete(g.peers, p)
		}
	}
}

// scoreBook keeps the latest router scores (refreshed by pubsub's inspector)
// and which topics' meshes each peer is in (from the raw tracer).
type scoreBook struct {
	mu      sync.Mutex
	scores  map[peer.ID]float64
	mesh    map[peer.ID]map[string]bool
	updated chan struct{} // a new set of scores arrived (cutOffLoop)
	drops   queueDrops
}

func newScoreBook() *scoreBook {
	return &scoreBook{scores: map[peer.ID]float64{}, mesh: map[peer.ID]map[string]bool{}, updated: make(chan struct{}, 1)}
}

func (b *scoreBook) inspect(s map[peer.ID]float64) {
	b.mu.Lock()
	b.scores = s
	b.mu.Unlock()
	select {
	case b.updated <- struct{}{}:
	default:
	}
}

// below returns the peers whose latest score is under threshold.
func (b *scoreBook) below(threshold float64) []peer.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []peer.ID
	for p, s := range b.scores {
		if s < threshold {
			out = append(out, p)
		}
	}
	return out
}

func (b *scoreBook) score(p peer.ID) (float64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.scores[p]
	return s, ok
}

func (b *scoreBook) inMesh(p peer.ID, topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mesh[p][topic]
}

func (b *scoreBook) setMesh(p peer.ID, topic string, in bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.mesh[p]
	if in {
		if m == nil {
			m = map[string]bool{}
			b.mesh[p] = m
		}
		m[topic] = true
		return
	}
	delete(m, topic)
	if len(m) == 0 {
		delete(b.mesh, p)
	}
}

// meshTracer is a pubsub RawTracer that records mesh membership.
type meshTracer struct{ b *scoreBook }

var _ pubsub.RawTracer = meshTracer{}

func (t meshTracer) Graft(p peer.ID, topic string)          { t.b.setMesh(p, topic, true) }
func (t meshTracer) Prune(p peer.ID, topic string)          { t.b.setMesh(p, topic, false) }
func (meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (meshTracer) Join(string)                              {}
func (meshTracer) Leave(string)                             {}
func (meshTracer) ValidateMessage(*pubsub.Message)          {}
func (meshTracer) DeliverMessage(*pubsub.Message)           {}
func (t meshTracer) RejectMessage(_ *pubsub.Message, reason string) {
	if reason == pubsub.RejectValidationQueueFull || reason == pubsub.RejectValidationThrottled {
		t.b.drops.validationQueue.Add(1)
	}
}
func (meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (meshTracer) ThrottlePeer(peer.ID)                                 {}
func (meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t meshTracer) DropRPC(*pubsub.RPC, peer.ID)                       { t.b.drops.outboundQueue.Add(1) }
func (t meshTracer) UndeliverableMessage(*pubsub.Message)               { t.b.drops.subscription.Add(1) }

// queueDrops counts what GossipSub dropped because a queue was full: such
// a message reaches its peer (or us) only by another path or by sync.
type queueDrops struct {
	outboundQueue   atomic.Uint64 // RPCs to a peer dropped: its outbound queue was full
	validationQueue atomic.Uint64 // messages dropped before validation: queue full or throttled
	subscription    atomic.Uint64 // validated messages our subscriber was too slow to take
}

// QueueDrops is a snapshot of queueDrops.
type QueueDrops struct {
	OutboundRPCs, Validation, Subscription uint64
}

// QueueDrops reports GossipSub's queue-full drops since the host started.
func (h *Host) QueueDrops() QueueDrops {
	d := &h.scores.drops
	return QueueDrops{OutboundRPCs: d.outboundQueue.Load(), Validation: d.validationQueue.Load(), Subscription: d.subscription.Load()}
}

// WithPeerRateLimit sets the per-peer message rate limit (messages per
// second forwarded to us by one peer, and the burst above it); perSec <= 0
// turns the limit off.
func WithPeerRateLimit(perSec float64, burst int) Option {
	return func(c *config) { c.peerRate, c.peerBurst = perSec, burst }
}

// PeerScore is p's GossipSub score as last computed (about once a second).
func (h *Host) PeerScore(p peer.ID) (float64, bool) { return h.scores.score(p) }
