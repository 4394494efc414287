package p2p

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// blockDirect is a censor on one host: it refuses every direct connection
// to or from peer other, and lets relayed ones through.
type blockDirect struct{ other peer.ID }

func (g blockDirect) refuses(p peer.ID, a ma.Multiaddr) bool { return p == g.other && !isRelayed(a) }

func (g blockDirect) InterceptPeerDial(peer.ID) bool { return true }
func (g blockDirect) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return !g.refuses(p, a)
}
func (g blockDirect) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (g blockDirect) InterceptSecured(_ network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	return !g.refuses(p, cm.RemoteMultiaddr())
}
func (g blockDirect) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

func newKey(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

// Two hosts whose direct path is blocked, both given the same relay as a
// bootstrap peer: each reserves a slot on it although nothing says it is
// private, advertises the circuit address, and a dial with only the other's
// direct addresses falls back to the relay. Pubsub then runs over the circuit.
func TestBlockedDirectPathFallsBackToRelay(t *testing.T) {
	relay := newLoopbackHost(t, WithRelayService(true))
	rinfo := peer.AddrInfo{ID: relay.ID(), Addrs: relay.ListenAddrs()}
	ka, ida := newKey(t)
	kb, idb := newKey(t)
	a := newLoopbackHost(t, WithIdentity(ka), WithNAT(true), WithBootstrap(rinfo), withGater(blockDirect{idb}))
	b := newLoopbackHost(t, WithIdentity(kb), WithNAT(true), WithBootstrap(rinfo), withGater(blockDirect{ida}))

	for _, h := range []*Host{a, b} {
		pollUntil(t, "a reservation on the relay, advertised", func() bool {
			circuit := slices.ContainsFunc(h.ListenAddrs(), func(x ma.Multiaddr) bool {
				return isRelayed(x) && peerInAddr(x) == relay.ID()
			})
			return slices.Contains(h.Reservations(), relay.ID()) && circuit
		})
	}
	if r := a.Reachability(); r == ReachabilityPrivate {
		t.Fatalf("a is %s: the reservation must not depend on it", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), floodTimeout)
	defer cancel()
	direct := peer.AddrInfo{ID: b.ID(), Addrs: b.Libp2p().Network().ListenAddresses()}
	if err := a.Connect(ctx, direct, SourceDirect); err != nil {
		t.Fatalf("dial with direct addresses only, blocked: %v", err)
	}
	pi, ok := peerInfo(a, b.ID())
	if !ok || pi.Path != PathRelayed {
		t.Fatalf("path to b = %+v, want relayed", pi)
	}

	ta := mustJoin(t, a, "/parley/test/blocked")
	tb := mustJoin(t, b, "/parley/test/blocked")
	pollUntil(t, "b to see a on the topic", func() bool { return slices.Contains(tb.ListPeers(), a.ID()) })
	if err := tb.Publish(ctx, []byte("ok:around the censor")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(floodTimeout)
	for got := false; !got; {
		select {
		case m := <-ta.Messages():
			got = string(m.Data) == "ok:around the censor"
		case <-deadline:
			t.Fatal("message did not cross the relay")
		}
	}
}

// peerInAddr is the peer id of a's first /p2p component ("" if none).
func peerInAddr(a ma.Multiaddr) peer.ID {
	v, err := a.ValueForProtocol(ma.P_P2P)
	if err != nil {
		return ""
	}
	id, _ := peer.Decode(v)
	return id
}

// Without a reservation anywhere, a failed direct dial stays failed.
func TestBlockedDirectPathWithoutRelayFails(t *testing.T) {
	ka, ida := newKey(t)
	b := newLoopbackHost(t, withGater(blockDirect{ida}))
	a := newLoopbackHost(t, WithIdentity(ka), WithNAT(true), withGater(blockDirect{b.ID()}))
	ctx, cancel := context.WithTimeout(context.Background(), floodTimeout)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.ListenAddrs()}, SourceDirect); err == nil {
		t.Fatal("blocked dial with no relay succeeded")
	}
}
