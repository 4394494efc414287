package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine is still alive once every test
// has closed its hosts: Close must stop everything a Host started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A host with every part running (NAT traversal, DHT server, relay service,
// pubsub with a topic and a peer-join watcher, a connection and streams) and
// its peer leave no goroutine behind once closed. Checked right here, not
// only at the end of the run, so a leak points at Close.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	key := func() crypto.PrivKey {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	start := func(opts ...Option) *Host {
		h, err := New(context.Background(), append([]Option{WithIdentity(key()), WithMDNS(false),
			WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}, nil)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := start(WithNAT(true), WithDHT(DHTServer), WithRelayService(true))
	b := start(WithNAT(true), WithDHT(DHTClient), WithBootstrap(peer.AddrInfo{ID: a.ID(), Addrs: a.ListenAddrs()}))
	const topic = "/parley/test/leak"
	ta, err := a.Join(topic, honestValidator)
	if err != nil {
		t.Fatal(err)
	}
	joined := make(chan peer.ID, 1)
	if err := ta.OnPeerJoin(func(p peer.ID) {
		select {
		case joined <- p:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(topic, honestValidator); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "b to connect to its bootstrap peer", func() bool { return b.IsConnected(a.ID()) })
	select {
	case <-joined:
	case <-time.After(floodTimeout):
		t.Fatal("a never saw b join the topic")
	}
	if err := ta.Publish(context.Background(), []byte("ok:bye")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	a.Close()
	goleak.VerifyNone(t, before)
}
