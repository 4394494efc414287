package p2p

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// A bootstrap peer named once per address (`--bootstrap TCP --bootstrap
// QUIC`) is one peer with both addresses, so that one dial sees them all and
// can prefer QUIC (see mergeAddrInfos). The NAT end-to-end test
// (cmd/parley/nat_test.go) shows why it matters: hole punching needs both
// members connected to the relay over the same transport.
func TestBootstrapAddrsMerged(t *testing.T) {
	const id = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	p, err := peer.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	tcp := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	quic := ma.StringCast("/ip4/192.0.2.1/udp/4001/quic-v1")
	h := newLoopbackHost(t,
		WithBootstrap(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{tcp}}, peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{quic}}),
		WithStaticRelays(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{quic}}, peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{quic, tcp}}))
	check := func(what string, got []peer.AddrInfo, want ...ma.Multiaddr) {
		t.Helper()
		if len(got) != 1 || got[0].ID != p || len(got[0].Addrs) != len(want) {
			t.Fatalf("%s: %v, want one entry for %s with %v", what, got, id, want)
		}
		for i := range want {
			if !got[0].Addrs[i].Equal(want[i]) {
				t.Fatalf("%s: %v, want one entry for %s with %v", what, got, id, want)
			}
		}
	}
	check("bootstrap", h.bootstrapPeers(), tcp, quic)
	h.mu.Lock()
	relays := h.staticRelays
	h.mu.Unlock()
	check("static relays", relays, quic, tcp)

	// At run time too (an invite's relay); our own id is never added.
	ws := ma.StringCast("/ip4/192.0.2.1/tcp/4002/ws")
	h.AddBootstrap(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{quic, ws}}, peer.AddrInfo{ID: h.ID(), Addrs: []ma.Multiaddr{tcp}})
	check("after AddBootstrap", h.bootstrapPeers(), tcp, quic, ws)
}

// Dead bootstrap peers (remembered ones may be long gone) do not hold up a
// live one: the host dials a few at a time. Each dead one here accepts TCP
// and then says nothing, so its dial runs to the full dial timeout. A
// liveness check, not proof of the concurrency: kad-dht's own bootstrap
// sometimes reaches the live peer first even with one dial at a time.
func TestDeadBootstrapPeersDoNotBlockLiveOne(t *testing.T) {
	var dead []peer.AddrInfo
	for range 3 { // fewer than bootstrapDialers: the live one is dialled in the first round
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		dead = append(dead, peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))}})
	}
	live := newLoopbackHost(t)
	h := newLoopbackHost(t, WithDHT(DHTClient), WithBootstrap(append(dead, peer.AddrInfo{ID: live.ID(), Addrs: live.ListenAddrs()})...))
	// Bounded by one dial timeout: reached without waiting out a dead dial.
	deadline := time.Now().Add(dialTimeout - 2*time.Second)
	for !h.IsConnected(live.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("the live bootstrap peer waited behind the dead ones")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
