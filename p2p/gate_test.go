package p2p

import (
	"slices"
	"testing"

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
			connectHosts(t, a, b)
			for _, xy := range [][2]*Host{{a, b}, {b, a}} {
				x, y := xy[0], xy[1]
				// Identify is done once x holds every protocol y speaks: no
				// later identify message rewrites the list (y sets no more
				// handlers).
				want := y.Libp2p().Mux().Protocols()
				pollUntil(t, "identify", func() bool {
					got, _ := x.Libp2p().Peerstore().GetProtocols(y.ID())
					return !slices.ContainsFunc(want, func(p protocol.ID) bool { return !slices.Contains(got, p) })
				})
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
