package p2p

import (
	"testing"

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
