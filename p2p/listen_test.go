package p2p

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	manet "github.com/multiformats/go-multiaddr/net"
)

// A port another node holds is not fatal, and not shared: libp2p binds
// with SO_REUSEPORT, so without the plain-listener check the second node
// would bind the same port and take part of the first one's connections.
func TestTakenPortFallsBack(t *testing.T) {
	newKey := func() crypto.PrivKey {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first, err := New(context.Background(), WithIdentity(newKey()), WithMDNS(false), WithNAT(false),
		WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	na, err := manet.ToNetAddr(first.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	port := na.(*net.TCPAddr).Port

	h, err := New(context.Background(), WithIdentity(newKey()), WithMDNS(false), WithNAT(false),
		WithListenAddrs([]string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}, []string{"/ip4/127.0.0.1/tcp/0"}))
	if err != nil {
		t.Fatalf("taken port was fatal: %v", err)
	}
	defer h.Close()
	addrs := h.ListenAddrs()
	if len(addrs) == 0 {
		t.Fatal("host listens nowhere")
	}
	tcpAddrs := 0
	for _, a := range addrs {
		na, err := manet.ToNetAddr(a)
		if err != nil {
			continue
		}
		if tcp, ok := na.(*net.TCPAddr); ok {
			tcpAddrs++
			if tcp.Port == port {
				t.Fatalf("host shares the taken port %d: %v", port, addrs)
			}
		}
	}
	if tcpAddrs == 0 {
		t.Fatalf("host listens on no TCP address, so nothing shows it moved off port %d: %v", port, addrs)
	}
}
