package p2p

import (
	"crypto/sha256"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
)

// PubSubOptions returns the GossipSub options every Parley host starts with,
// for messages of at most maxMessageSize bytes. New adds to them only what
// belongs to one host (peer scoring fed by its rate limit, the mesh tracer);
// a baseline that must behave like Parley's pubsub (cmd/parley-bench) uses
// exactly these, so the two cannot drift apart.
func PubSubOptions(maxMessageSize int) []pubsub.Option {
	return []pubsub.Option{
		// Authorship and signatures live inside the encrypted envelope, so
		// pubsub adds no author, seqno or second signature (see libp2p-notes).
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(contentID),
		pubsub.WithMaxMessageSize(maxMessageSize),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerOutboundQueueSize(defaultQueue),
		pubsub.WithValidateQueueSize(defaultQueue),
		pubsub.WithPeerExchange(false),
		pubsub.WithSeenMessagesTTL(SeenMessagesTTL),
		pubsub.WithGossipSubParams(gossipSubParams()),
	}
}

// SeenMessagesTTL is how long GossipSub remembers a message id (its seen and
// delivered caches, and the score's delivery records). The default, 2 min,
// is 240,000 ids per cache at 2,000 msg/s, tens of MB per node. Parley
// needs it only to stop forwarding loops, which gossip's 3 s window bounds:
// a copy that arrives later still stops at the validator, which finds the
// id in the store and ignores it (a counted "duplicate" drop).
const SeenMessagesTTL = 30 * time.Second

// idontwantThreshold is the smallest message for which GossipSub tells its
// mesh peers IDONTWANT on receipt. Its default (1 KiB) put nearly every
// padded envelope above it, so each message received sent a control frame
// to every other mesh peer: more frames (each a write, a TLS record and a
// read at both ends) than the duplicates it could spare, which on a fast
// link are mostly in flight already. Only large envelopes (long texts, big
// bundles) are worth the frame.
const idontwantThreshold = 16 << 10

// GossipSub's message cache keeps each message for historyLength heartbeats
// to answer IWANTs, and advertises it in IHAVEs for the first historyGossip
// of them; the heartbeat between keeps a message advertised in the last
// IHAVE servable when the IWANT comes back (a peer that promises and cannot
// serve is penalised by the asker's score). GossipSub's 5 and 3 held every
// envelope a node received or published for 5 s: at 3,000 msg/s about 12 MB
// per node, and a node near the 64 MiB soft limit paid for them in collector
// CPU. With 3 and 2 it holds them 3 s: 40% less, and CPU per delivery at
// that load fell by 13% (docs/bench-2026-12-05/s17-findings.md). Gossip is
// a repair path; a message missed by both the mesh push and two rounds of
// IHAVE still comes with Parley's sync.
const (
	historyLength = 3
	historyGossip = 2
)

func gossipSubParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.IDontWantMessageThreshold = idontwantThreshold
	p.HistoryLength, p.HistoryGossip = historyLength, historyGossip
	return p
}

// SubscribeOptions returns the options a Topic subscribes with.
func SubscribeOptions() []pubsub.SubOpt {
	return []pubsub.SubOpt{pubsub.WithBufferSize(defaultQueue)}
}

// contentID names a pubsub message by the hash of its bytes, so the same
// envelope is recognised as a duplicate whoever forwards it.
func contentID(m *pb.Message) string {
	sum := sha256.Sum256(m.Data)
	return string(sum[:])
}
