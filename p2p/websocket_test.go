package p2p

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// A relay that listens only on WebSocket over TLS with a self-signed
// certificate: members find it from its bridge line, connect over /tls/ws
// (no CA involved), reserve a slot and talk through it.
func TestRelayOverTLSWebSocket(t *testing.T) {
	ctx := context.Background()
	cert, err := SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	relay := newLoopbackHost(t, WithRelayService(true), WithTLSCertificate(cert),
		WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, nil))
	line := BridgeLine(relay.Addrs())
	if strings.ContainsAny(line, " \n") || !strings.Contains(line, "/tls/ws/p2p/"+relay.ID().String()) {
		t.Fatalf("bridge line %q", line)
	}
	ais, err := ParseAddrInfos([]string{line})
	if err != nil || len(ais) != 1 || ais[0].ID != relay.ID() {
		t.Fatalf("bridge line %q parses to %v, %v", line, ais, err)
	}

	// Members listen on plain WebSocket only, so every path is WebSocket.
	wsOnly := WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0/ws"}, nil)
	a, b := newLoopbackHost(t, wsOnly), newLoopbackHost(t, wsOnly)
	for _, m := range []*Host{a, b} {
		cctx, cancel := context.WithTimeout(ctx, floodTimeout)
		err := m.Connect(cctx, ais[0], SourceBootstrap)
		cancel()
		if err != nil {
			t.Fatalf("connect to the relay over tls/ws: %v", err)
		}
		for _, c := range m.Libp2p().Network().ConnsToPeer(relay.ID()) {
			if !isTLSWS(c.RemoteMultiaddr()) {
				t.Errorf("connection to the relay over %v, want /tls/ws", c.RemoteMultiaddr())
			}
		}
	}
	pollUntil(t, "a relay reservation over tls/ws", func() bool {
		_, err := client.Reserve(ctx, b.Libp2p(), ais[0])
		return err == nil
	})
	circuit := relay.Addrs()[0].Encapsulate(ma.StringCast("/p2p-circuit"))
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{circuit}}, SourceDirect); err != nil {
		t.Fatal(err)
	}
	if pi, ok := peerInfo(a, b.ID()); !ok || pi.Path != PathRelayed {
		t.Fatalf("path to b = %+v, want relayed", pi)
	}
	ta := mustJoin(t, a, "/parley/test/tlsws")
	tb := mustJoin(t, b, "/parley/test/tlsws")
	pollUntil(t, "a to see b on the topic", func() bool { return len(ta.ListPeers()) == 1 })
	if err := ta.Publish(ctx, []byte("ok:through a tls/ws relay")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(floodTimeout)
	for got := false; !got; {
		select {
		case m := <-tb.Messages():
			got = string(m.Data) == "ok:through a tls/ws relay"
		case <-deadline:
			t.Fatal("message did not cross the relay")
		}
	}
}

// Skipping the outer certificate check does not mean trusting whoever
// answers: the same /tls/ws address with another peer id fails in libp2p's
// handshake inside the WebSocket.
func TestTLSWebSocketAuthenticatesPeerID(t *testing.T) {
	relay := newLoopbackHost(t, WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, nil))
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	m := newLoopbackHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), floodTimeout)
	defer cancel()
	err = m.Connect(ctx, peer.AddrInfo{ID: impostor, Addrs: relay.ListenAddrs()}, SourceBootstrap)
	if err == nil {
		t.Fatal("dial of the relay's address under another peer id succeeded")
	}
	if !strings.Contains(err.Error(), "peer id mismatch") && !strings.Contains(err.Error(), "peer IDs don't match") {
		t.Errorf("dial failed, but not on the peer id: %v", err)
	}
	// The right id over the same address (and a certificate made in memory,
	// as no certificate was given) works.
	if err := m.Connect(ctx, peer.AddrInfo{ID: relay.ID(), Addrs: relay.ListenAddrs()}, SourceBootstrap); err != nil {
		t.Fatalf("dial with the right peer id: %v", err)
	}
}

// LoadOrCreateCert writes a self-signed pair once and loads the same one
// after, so a relay's certificate survives restarts.
func TestLoadOrCreateCert(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, err := LoadOrCreateCert(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := LoadOrCreateCert(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatal("a second load made a new certificate")
	}
}

func TestParseBridgeLine(t *testing.T) {
	id := "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	line := "/ip4/11.0.113.1/tcp/443/tls/ws/p2p/" + id + ", /ip4/11.0.113.1/udp/4001/quic-v1/p2p/" + id
	ais, err := ParseAddrInfos([]string{line})
	if err != nil || len(ais) != 1 || len(ais[0].Addrs) != 2 {
		t.Fatalf("ParseAddrInfos(%q) = %v, %v; want one peer with two addresses", line, ais, err)
	}
	if _, err := ParseAddrInfos([]string{"/ip4/11.0.113.1/tcp/443/tls/ws/p2p/" + id + ",/ip4/11.0.113.1/tcp/4001"}); err == nil {
		t.Fatal("a bridge line with an address lacking /p2p/ was accepted")
	}
	if _, err := ParseAddrInfos([]string{" , "}); err == nil {
		t.Fatal("an empty bridge line was accepted")
	}
}

// isTLSWS: libp2p reports a /tls/ws connection's remote address as /wss.
func isTLSWS(a ma.Multiaddr) bool { return ListensTLSWebSocket([]string{a.String()}) }
