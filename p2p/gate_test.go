package p2p

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
)

// A peer admitted while the peerstore does not list pubsub's protocols for
// it still becomes a pubsub peer. Identify's response and its push race:
// a node's first snapshot (taken before pubsub set its handlers) can answer
// the request while the push of the full one is under way, and the one read
// last replaces the list. Read after the push, the stale response leaves
// the list without pubsub's protocols, and the identify events naming them
// came while the peer was not admitted, so the gate withheld them. Before
// identify has answered at all, the list is empty. Both are set here by
// hand, as the stale response sets them (Peerstore.SetProtocols), after
// identify is done. Before the fix, the admission told pubsub the list, and
// pubsub ignored the peer: two connected members admitting each other never
// learnt each other's subscription (node's formGroup: 18 failures in 10,443
// runs under load).
func TestAdmitWithoutPubSubProtocolsInPeerstore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		protos []protocol.ID
	}{
		{"stale identify response", []protocol.ID{identify.ID, identify.IDPush}},
		{"not yet identified", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newLoopbackHost(t, WithPubSubGate(true)), newLoopbackHost(t, WithPubSubGate(true))
			const topic = "/parley/test/admit-stale"
			ta := mustJoin(t, a, topic)
			tb := mustJoin(t, b, topic)
			// Identify's end (or failure) on each side, from the host's own
			// bus: the list is set by hand after it. Waiting instead for the
			// list to hold every protocol the other speaks hung under load,
			// when the very race above left one out.
			idents := map[*Host]event.Subscription{}
			for _, x := range []*Host{a, b} {
				sub, err := x.Libp2p().EventBus().Subscribe([]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerIdentificationFailed)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sub.Close() })
				idents[x] = sub
			}
			connectHosts(t, a, b)
			for _, xy := range [][2]*Host{{a, b}, {b, a}} {
				x, y := xy[0], xy[1]
				waitIdentified(t, idents[x], y.ID())
				if err := x.Libp2p().Peerstore().SetProtocols(y.ID(), tc.protos...); err != nil {
					t.Fatal(err)
				}
			}
			a.AdmitPubSubTopic(b.ID(), topic)
			b.AdmitPubSubTopic(a.ID(), topic)
			pollUntil(t, "a and b to see each other on the topic", func() bool {
				return slices.Contains(ta.ListPeers(), b.ID()) && slices.Contains(tb.ListPeers(), a.ID())
			})
		})
	}
}

// waitIdentified waits for identify's end with p, done or failed, on sub.
func waitIdentified(t *testing.T, sub event.Subscription, p peer.ID) {
	t.Helper()
	timeout := time.After(floodTimeout)
	for {
		select {
		case ev := <-sub.Out():
			switch ev := ev.(type) {
			case event.EvtPeerIdentificationCompleted:
				if ev.Peer == p {
					return
				}
			case event.EvtPeerIdentificationFailed:
				if ev.Peer == p {
					return
				}
			}
		case <-timeout:
			t.Fatalf("timed out waiting for identify with %s", p)
		}
	}
}

// A member admitted by the other side long after it admitted that side
// still gets a pubsub stream back. a's gate resets b's pubsub streams while
// a has not admitted b, and b's GossipSub, after its fifth dead stream,
// forgets a until a new identify event. When a admits b, a's stream to b is
// the sign the gate revives b's pubsub with: without it a never hears from
// b on the topic while they stay connected (gate.revive).
func TestPubSubRevivedAfterLateAdmission(t *testing.T) {
	defer func(w, r time.Duration) { admitWait, reviveEvery = w, r }(admitWait, reviveEvery)
	admitWait, reviveEvery = 50*time.Millisecond, 50*time.Millisecond

	a, b := newLoopbackHost(t, WithPubSubGate(true)), newLoopbackHost(t, WithPubSubGate(true))
	const topic = "/parley/test/late-admission"
	ta := mustJoin(t, a, topic)
	tb := mustJoin(t, b, topic)
	connectHosts(t, a, b)
	b.AdmitPubSubTopic(a.ID(), topic)
	// GossipSub 0.19 reopens a dead peer's stream 4 times, then gives up.
	pollUntil(t, "b's pubsub to give up on a", func() bool {
		b.gate.mu.Lock()
		st := b.gate.streams[a.ID()]
		b.gate.mu.Unlock()
		return a.gate.refused.Load() >= 5 && st != nil && st.dead.Load()
	})
	a.AdmitPubSubTopic(b.ID(), topic)
	pollUntil(t, "a and b to see each other on the topic", func() bool {
		return slices.Contains(ta.ListPeers(), b.ID()) && slices.Contains(tb.ListPeers(), a.ID())
	})
}
