package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/p2p"
)

// startBootstrap runs a relay/bootstrap-mode host (DHT server, relay
// service) on loopback, as `parley relay` does.
func startBootstrap(t testing.TB) peer.AddrInfo {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := p2p.New(context.Background(), p2p.WithIdentity(key), p2p.WithMDNS(false),
		p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithRelayService(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	return peer.AddrInfo{ID: bs.ID(), Addrs: bs.ListenAddrs()}
}

// Ten nodes that know only a bootstrap node, and an invite without the
// inviter's addresses: members must find each other by DHT rendezvous.
func TestRendezvousThroughBootstrap(t *testing.T) {
	ctx := context.Background()
	bs := startBootstrap(t)
	opts := []Option{WithRendezvousInterval(200 * time.Millisecond), WithP2P(p2p.WithBootstrap(bs))}
	nodes := make([]*testNode, 10)
	for i := range nodes {
		nodes[i] = newTestNode(t, fmt.Sprintf("n%d", i), "", opts...)
	}
	gi, err := nodes[0].CreateGroup(ctx, "far", false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := nodes[0].Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := DecodeInvite(code)
	if err != nil {
		t.Fatal(err)
	}
	// Joining needs a member to admit: each joiner reaches the inviter for
	// that; the joiners meet each other through DHT rendezvous.
	for _, n := range nodes[1:] {
		if _, err := n.joinDecoded(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i, n := range nodes {
		text := fmt.Sprintf("hello from %d", i)
		want = append(want, text)
		if _, err := n.Send(ctx, gi.ID, text); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("node %d to hold every message", i), func() bool { return hasAll(texts(t, n, gi.ID), want...) })
	}
	// They met through the DHT: the only address anyone was given is the
	// bootstrap's, so every member-to-member connection was dialled by a
	// side that found the other by rendezvous (the other side may only see
	// it as an inbound connection).
	viaDHT := 0
	for i, n := range nodes {
		members := 0
		for _, p := range n.Peers() {
			if p.Via == string(p2p.SourceDHT) {
				viaDHT++
			}
			if p.ID == bs.ID.String() {
				if p.Via != string(p2p.SourceBootstrap) {
					t.Errorf("node %d: bootstrap peer reached via %q", i, p.Via)
				}
				continue
			}
			members++
		}
		if members == 0 {
			t.Errorf("node %d: connected to no other member: %+v", i, n.Peers())
		}
		if st := n.Status(); st.DHTPeers == 0 {
			t.Errorf("node %d: empty DHT routing table", i)
		}
	}
	if viaDHT == 0 {
		t.Error("no connection was made from a rendezvous lookup")
	}
}
