package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// Two peers that reach each other only through a relay node see the path as
// relayed, and GossipSub runs over it (the relay sets no per-circuit limit).
func TestRelayedPeerCarriesPubsub(t *testing.T) {
	ctx := context.Background()
	relay := newLoopbackHost(t, WithRelayService(true))
	a, b := newLoopbackHost(t), newLoopbackHost(t)
	connectHosts(t, a, relay)
	connectHosts(t, b, relay)
	rinfo := peer.AddrInfo{ID: relay.ID(), Addrs: relay.ListenAddrs()}
	pollUntil(t, "a relay reservation", func() bool {
		_, err := client.Reserve(ctx, b.Libp2p(), rinfo)
		return err == nil
	})
	circuit := relay.Addrs()[0].Encapsulate(ma.StringCast("/p2p-circuit"))
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{circuit}}, SourceDirect); err != nil {
		t.Fatal(err)
	}
	pi, ok := peerInfo(a, b.ID())
	if !ok || pi.Path != PathRelayed {
		t.Fatalf("path to b = %+v, want relayed", pi)
	}

	ta := mustJoin(t, a, "/parley/test/relay")
	tb := mustJoin(t, b, "/parley/test/relay")
	pollUntil(t, "a to see b on the topic", func() bool { return len(ta.ListPeers()) == 1 })
	if err := ta.Publish(ctx, []byte("ok:through the relay")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(floodTimeout)
	for got := false; !got; {
		select {
		case m := <-tb.Messages():
			got = string(m.Data) == "ok:through the relay"
		case <-deadline:
			t.Fatal("message did not cross the relay")
		}
	}
	if pi, _ := peerInfo(a, b.ID()); pi.Path != PathRelayed {
		t.Fatalf("path changed to %q", pi.Path)
	}
}
