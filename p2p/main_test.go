package p2p

import (
	"context"
	"errors"
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

// Hosts with every part running (NAT traversal, DHT server, relay service;
// pubsub with a topic and a peer-join watcher, a connection and streams: a
// relay runs no pubsub, so members b and c hold the topic) leave no goroutine
// behind once closed. Checked right here, not
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
	c := start(WithNAT(true), WithDHT(DHTClient), WithBootstrap(peer.AddrInfo{ID: a.ID(), Addrs: a.ListenAddrs()}))
	if _, err := a.Join("/parley/test/leak", honestValidator); !errors.Is(err, ErrNoPubSub) {
		t.Fatalf("a relay joined a topic: %v", err)
	}
	const topic = "/parley/test/leak"
	ta := mustJoin(t, c, topic)
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
	pollUntil(t, "b and c to connect to their bootstrap peer", func() bool { return b.IsConnected(a.ID()) && c.IsConnected(a.ID()) })
	if err := b.Connect(context.Background(), peer.AddrInfo{ID: c.ID(), Addrs: c.ListenAddrs()}, SourceDirect); err != nil {
		t.Fatal(err)
	}
	select {
	case <-joined:
	case <-time.After(floodTimeout):
		t.Fatal("c never saw b join the topic")
	}
	if err := ta.Publish(context.Background(), []byte("ok:bye")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c.Close()
	a.Close()
	goleak.VerifyNone(t, before)
}
