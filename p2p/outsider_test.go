package p2p

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// strangerTracer records what a stock GossipSub peer is told.
type strangerTracer struct {
	meshTracer
	mu     sync.Mutex
	topics map[string]bool
	msgs   int
}

func (s *strangerTracer) RecvRPC(rpc *pubsub.RPC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range rpc.GetSubscriptions() {
		if sub.GetSubscribe() {
			s.topics[sub.GetTopicid()] = true
		}
	}
	s.msgs += len(rpc.GetPublish())
}

func (s *strangerTracer) seen() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []string
	for t := range s.topics {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts, s.msgs
}

// What a connected non-member learns, against running hosts (issue 15):
// a stock libp2p host with its own GossipSub, subscribed to nothing,
// connects to member a while a and b chat on a topic; a relay connected to
// both runs no pubsub at all.
//
// Asserted, as threat-model.md states it: the stranger receives no message
// (flood publishing and forwarding go only to peers subscribed to the
// topic), but it IS told the topic name by GossipSub's subscription
// announcement (getHelloPacket ignores WithPeerFilter). The relay learns no
// topic: it does not speak GossipSub, so members open no pubsub stream to it.
//
// With WithPubSubGate (what the node runs, admitting peers that proved
// membership of a shared group), the stranger is told nothing at all.
func TestWhatAStrangerLearns(t *testing.T) {
	t.Run("ungated", func(t *testing.T) { testStranger(t, false) })
	t.Run("gated", func(t *testing.T) { testStranger(t, true) })
}

func testStranger(t *testing.T, gated bool) {
	a, b := newLoopbackHost(t, WithPubSubGate(gated)), newLoopbackHost(t, WithPubSubGate(gated))
	relay := newLoopbackHost(t, WithRelayService(true))
	const topic = "/parley/test/secret-topic"
	ta := mustJoin(t, a, topic)
	tb := mustJoin(t, b, topic)
	connectHosts(t, a, b)
	connectHosts(t, a, relay)
	connectHosts(t, b, relay)
	a.AdmitPubSub(b.ID()) // what the node does once a sync handshake proved b a member
	b.AdmitPubSub(a.ID())

	sh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	tr := &strangerTracer{meshTracer: meshTracer{newScoreBook()}, topics: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := pubsub.NewGossipSub(ctx, sh, pubsub.WithRawTracer(tr)); err != nil {
		t.Fatal(err)
	}
	if err := sh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.ListenAddrs()}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "a and b to see each other on the topic", func() bool { return len(ta.ListPeers()) == 1 && len(tb.ListPeers()) == 1 })
	if !gated {
		pollUntil(t, "the stranger to be told a's subscriptions", func() bool { ts, _ := tr.seen(); return len(ts) > 0 })
	}
	const n = 20
	for i := range n {
		if err := ta.Publish(ctx, []byte(append(append([]byte{}, honestPrefix...), "m"+strings.Repeat("x", i)...))); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	pollUntil(t, "b to receive a's messages", func() bool {
		for {
			select {
			case m := <-tb.Messages():
				if !m.Local {
					got++
				}
			default:
				return got == n
			}
		}
	})
	ts, msgs := tr.seen()
	t.Logf("the stranger was told topics %q and received %d messages", ts, msgs)
	switch {
	case gated && len(ts) != 0:
		t.Errorf("stranger was told %q through the gate", ts)
	case !gated && !slices.Equal(ts, []string{topic}):
		t.Errorf("stranger was told %q, want exactly the member's topic (the documented leak)", ts)
	}
	if gated && a.PubSubAdmitted(sh.ID()) {
		t.Error("the stranger is admitted")
	}
	if msgs != 0 {
		t.Errorf("stranger, subscribed to nothing, received %d messages", msgs)
	}
	for _, p := range relay.Libp2p().Mux().Protocols() {
		if strings.Contains(string(p), "meshsub") || strings.Contains(string(p), "floodsub") {
			t.Errorf("relay speaks pubsub protocol %s", p)
		}
	}
	if slices.Contains(ta.ListPeers(), relay.ID()) || slices.Contains(tb.ListPeers(), relay.ID()) {
		t.Error("a member lists the relay on its topic")
	}
}
