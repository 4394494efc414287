package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// startDHTServer runs a `parley relay`-like host (DHT server, relay service)
// on loopback that the test can stop.
func startDHTServer(t testing.TB, boot ...peer.AddrInfo) *p2p.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.New(context.Background(), p2p.WithIdentity(key), p2p.WithMDNS(false),
		p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithRelayService(true),
		p2p.WithBootstrap(boot...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func hostInfo(h *p2p.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.ListenAddrs()} }

// circuitVia is the address of a peer reachable through relay r, as an
// invite from a NATed inviter carries it.
func circuitVia(r peer.AddrInfo) ma.Multiaddr {
	return r.Addrs[0].Encapsulate(ma.StringCast("/p2p/" + r.ID.String() + "/p2p-circuit"))
}

func connectedVia(n *testNode, p peer.ID, via p2p.Source) bool {
	for _, pi := range n.Peers() {
		if pi.ID == p.String() {
			return pi.Via == string(via)
		}
	}
	return false
}

// A member that joined by an invite from another network is told nothing
// but the inviter's relay. After a restart with no bootstrap flags, with the
// inviter and that relay gone, it must still use the DHT: it bootstraps from
// the DHT servers it remembered (the invite's relay, saved at join, and a
// server met in the DHT) and finds, by rendezvous, a member it never met.
func TestBootstrapPeersSurviveRestart(t *testing.T) {
	ctx := context.Background()
	r1 := startDHTServer(t)
	r2 := startDHTServer(t, hostInfo(r1))
	fast := WithRendezvousInterval(200 * time.Millisecond)

	a := newTestNode(t, "a", "", fast, WithP2P(p2p.WithBootstrap(hostInfo(r1))))
	gi, err := a.CreateGroup(ctx, "far", false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := a.Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := DecodeInvite(code)
	if err != nil {
		t.Fatal(err)
	}
	// A is NATed: reachable through R1 only, but for the join itself (A
	// must admit B; here over its direct address).
	inv.Inviter.Addrs = append([]ma.Multiaddr{circuitVia(hostInfo(r1))}, a.Host().ListenAddrs()...)

	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := startTestNode(t, "b", dir, key, fast) // no bootstrap flags, ever
	if _, err := b.joinDecoded(ctx, inv); err != nil {
		t.Fatal(err)
	}
	// Saved at once: a user may join and quit.
	recs, err := b.st.BootstrapPeers()
	if err != nil || !slices.ContainsFunc(recs, func(p store.Peer) bool { return peer.ID(p.ID) == r1.ID() }) {
		t.Fatalf("invite's relay not saved as a bootstrap peer: %v, %v", recs, err)
	}
	// The first session works through the invite's relay: B meets A by
	// rendezvous, and its DHT queries meet R2, another DHT server.
	waitFor(t, "b to reach a", func() bool { return b.Host().IsConnected(a.ID()) })
	waitFor(t, "b to learn r2", func() bool { return b.reach.BootstrapKnows(r2.ID()) })
	// C joins while A can admit it (joining takes a member online), with
	// R2 as its only bootstrap peer.
	c := newTestNode(t, "c", "", fast, WithP2P(p2p.WithBootstrap(hostInfo(r2))))
	if _, err := c.joinDecoded(ctx, inv); err != nil {
		t.Fatal(err)
	}
	b.stop()
	a.stop()   // the inviter is gone (B remembers it, but cannot redial it)
	r1.Close() // and so is its relay

	// C posts once A and B are gone: B gets it after its restart, through R2.
	if _, err := c.Send(ctx, gi.ID, "from c"); err != nil {
		t.Fatal(err)
	}

	b = startTestNode(t, "b", dir, key, fast) // restart, still no flags
	if !b.reach.BootstrapKnows(r1.ID()) || !b.reach.BootstrapKnows(r2.ID()) {
		t.Fatal("remembered bootstrap peers not loaded")
	}
	waitFor(t, "b to bootstrap from r2", func() bool { return connectedVia(b, r2.ID(), p2p.SourceBootstrap) })
	waitFor(t, "b to get c's message", func() bool { return hasAll(texts(t, b, gi.ID), "from c") })
	if st := b.Status(); st.DHTPeers == 0 {
		t.Error("empty DHT routing table after restart")
	}
}

// A profile that joined before bootstrap peers were saved still has the
// inviter's relay in the remembered inviter's circuit address: it becomes a
// bootstrap peer at start.
func TestBootstrapFromRememberedRelay(t *testing.T) {
	r := startDHTServer(t)
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherID, _ := peer.IDFromPrivateKey(other)
	dir := t.TempDir()
	st, err := store.Open(StoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	err = st.PutPeer(store.Peer{ID: []byte(otherID), Addrs: [][]byte{circuitVia(hostInfo(r)).Bytes()}, LastSeenMs: time.Now().UnixMilli()})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := startTestNode(t, "n", dir, key)
	waitFor(t, "the relay to be a bootstrap peer", func() bool { return connectedVia(n, r.ID(), p2p.SourceBootstrap) })
	waitFor(t, "a DHT routing table", func() bool { return n.Status().DHTPeers > 0 })
}

// With no DHT peer, failed rendezvous rounds back off; connecting a DHT
// server wakes the loop at once rather than after the backoff.
func TestRendezvousBackoffAndWake(t *testing.T) {
	ctx := context.Background()
	r := startDHTServer(t)
	n := newTestNode(t, "n", "", WithRendezvousInterval(time.Hour))
	n.reach.SetRetry(func(int) time.Duration { return time.Hour }) // only a wake can retry in time
	if _, err := n.CreateGroup(ctx, "g", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed round", n.reach.RendezvousFailing)
	cctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	if err := n.Host().Connect(cctx, hostInfo(r), p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the wake to advertise", func() bool { return n.reach.Advertised() > 0 })
	waitFor(t, "rounds to succeed", func() bool { return !n.reach.RendezvousFailing() })
}
