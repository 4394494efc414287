package p2p

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// wireTracer records every topic a stock GossipSub peer reads off the wire:
// in subscriptions, messages and control entries.
type wireTracer struct {
	meshTracer
	mu     sync.Mutex
	subs   map[string]bool // topics announced as subscribed
	named  map[string]bool // topics named anywhere
	msgs   map[string]int  // messages by topic
	data   map[string]bool // every message's content
	frames int
}

func newWireTracer() *wireTracer {
	return &wireTracer{meshTracer: meshTracer{newScoreBook()}, subs: map[string]bool{}, named: map[string]bool{}, msgs: map[string]int{}, data: map[string]bool{}}
}

func (w *wireTracer) RecvRPC(rpc *pubsub.RPC) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.frames++
	for _, s := range rpc.GetSubscriptions() {
		w.named[s.GetTopicid()] = true
		if s.GetSubscribe() {
			w.subs[s.GetTopicid()] = true
		}
	}
	for _, m := range rpc.GetPublish() {
		w.named[m.GetTopic()] = true
		w.msgs[m.GetTopic()]++
		w.data[string(m.GetData())] = true
	}
	c := rpc.GetControl()
	for _, x := range c.GetIhave() {
		w.named[x.GetTopicID()] = true
	}
	for _, x := range c.GetGraft() {
		w.named[x.GetTopicID()] = true
	}
	for _, x := range c.GetPrune() {
		w.named[x.GetTopicID()] = true
	}
}

func (w *wireTracer) state() (subs, named []string, msgs map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t := range w.subs {
		subs = append(subs, t)
	}
	for t := range w.named {
		named = append(named, t)
	}
	slices.Sort(subs)
	slices.Sort(named)
	return subs, named, copyCounts(w.msgs)
}

// gotAll reports whether every one of contents was read off the wire.
func (w *wireTracer) gotAll(contents []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range contents {
		if !w.data[c] {
			return false
		}
	}
	return true
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// A peer admitted to some topics is told of those alone (issue 15): member
// a holds three topics; a stock GossipSub peer x, subscribed to all three
// as an insider would be, is admitted by a to "one" only. It is told a's
// subscription to "one" and gets its messages, and reads nothing naming
// "two" or "three" (no subscription, message, IHAVE, GRAFT or PRUNE), while
// a Parley host b, a member of "one" and "two", chats with a on both. Once
// x is admitted to "two", it is told a's subscription held back until then
// and gets "two"'s messages; "three" stays unnamed to it throughout.
func TestTopicsToldOnlyToTheirMembers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := newLoopbackHost(t, WithPubSubGate(true)), newLoopbackHost(t, WithPubSubGate(true))
	const one, two, three = "/parley/test/one", "/parley/test/two", "/parley/test/three"
	ta := map[string]*Topic{}
	for _, name := range []string{one, two, three} {
		ta[name] = mustJoin(t, a, name)
	}
	tb1 := mustJoin(t, b, one)
	tb2 := mustJoin(t, b, two)
	connectHosts(t, a, b)
	for _, tp := range []string{one, two} {
		a.AdmitPubSubTopic(b.ID(), tp)
		b.AdmitPubSubTopic(a.ID(), tp)
	}

	xh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer xh.Close()
	tr := newWireTracer()
	x, err := pubsub.NewGossipSub(ctx, xh, pubsub.WithRawTracer(tr), pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(contentID))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{one, two, three} {
		xt, err := x.Join(name)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := xt.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Cancel()
	}
	if err := xh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.ListenAddrs()}); err != nil {
		t.Fatal(err)
	}
	a.AdmitPubSubTopic(xh.ID(), one)

	defer func() {
		if t.Failed() {
			subs, named, msgs := tr.state()
			tr.mu.Lock()
			frames := tr.frames
			tr.mu.Unlock()
			t.Logf("b: %v %v; a: %v %v %v; x told %q, read %q, got %v in %d frames, connected to a %v",
				tb1.ListPeers(), tb2.ListPeers(), ta[one].ListPeers(), ta[two].ListPeers(), ta[three].ListPeers(),
				subs, named, msgs, frames, xh.Network().Connectedness(a.ID()))
		}
	}()
	pollUntil(t, "a, b and x to see each other on the topics", func() bool {
		return len(tb1.ListPeers()) == 1 && len(tb2.ListPeers()) == 1 && len(ta[one].ListPeers()) == 2 && len(ta[two].ListPeers()) == 2
	})
	pollUntil(t, "x to be told a's subscription to one", func() bool { s, _, _ := tr.state(); return slices.Contains(s, one) })
	sent := 0 // content names a message: each must differ
	publish := func(topic string, n int) (contents []string) {
		for range n {
			sent++
			data := fmt.Appendf(append([]byte{}, honestPrefix...), "%s %d", topic, sent)
			if err := ta[topic].Publish(ctx, data); err != nil {
				t.Fatal(err)
			}
			contents = append(contents, string(data))
		}
		return contents
	}
	publish(one, 5)
	publish(two, 5)
	publish(three, 5)
	pollUntil(t, "x to get one's messages", func() bool { _, _, m := tr.state(); return m[one] == 5 })
	pollUntil(t, "b to get one's and two's messages", func() bool { return countNew(tb1) == 5 && countNew(tb2) == 5 })

	subs, named, msgs := tr.state()
	if !slices.Equal(subs, []string{one}) || !slices.Equal(named, []string{one}) || msgs[two]+msgs[three] != 0 {
		t.Fatalf("x, admitted to one only, was told subscriptions %q, read topics %q, got messages %v", subs, named, msgs)
	}
	if !a.PubSubTopicAdmitted(xh.ID(), one) || a.PubSubTopicAdmitted(xh.ID(), two) {
		t.Fatal("admission state")
	}

	a.AdmitPubSubTopic(xh.ID(), two)
	pollUntil(t, "x to be told a's subscription to two", func() bool { s, _, _ := tr.state(); return slices.Contains(s, two) })
	newTwo := publish(two, 3)
	publish(three, 3)
	// Not a count: two's first five, still in a's message cache, may come
	// too (gossip to x, now a member of two).
	pollUntil(t, "x to get two's new messages", func() bool { return tr.gotAll(newTwo) })
	pollUntil(t, "b to get them too", func() bool { return countNew(tb2) == 8 })
	subs, named, msgs = tr.state()
	t.Logf("x was told %q, read topics %q, got messages %v", subs, named, msgs)
	if slices.Contains(named, three) || msgs[three] != 0 {
		t.Fatalf("x read %q and got %d messages of three", named, msgs[three])
	}
}

var newCounts sync.Map // *Topic -> int: messages from others read so far

// countNew reads what has arrived on tp from others and returns the total.
func countNew(tp *Topic) int {
	v, _ := newCounts.LoadOrStore(tp, 0)
	n := v.(int)
	for {
		select {
		case m := <-tp.Messages():
			if !m.Local {
				n++
			}
		default:
			newCounts.Store(tp, n)
			return n
		}
	}
}

// The topic scan that lets a frame pass unchanged finds every topic a full
// decode finds, whatever the bytes (a topic it missed would leak).
func FuzzScanTopics(f *testing.F) {
	seed := &pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Topicid: proto.String("s"), Subscribe: proto.Bool(true)}},
		Publish:       []*pb.Message{{Topic: proto.String("m"), Data: []byte("x")}},
		Control: &pb.ControlMessage{Ihave: []*pb.ControlIHave{{TopicID: proto.String("i")}},
			Graft: []*pb.ControlGraft{{TopicID: proto.String("g")}}, Prune: []*pb.ControlPrune{{TopicID: proto.String("p")}}},
		Partial: &pb.PartialMessagesExtension{TopicID: proto.String("q")},
	}
	b, err := proto.Marshal(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rpc pb.RPC
		if proto.Unmarshal(b, &rpc) != nil {
			scanTopics(b, func(string, *bool) {}) // must not panic
			return
		}
		found := map[string]bool{}
		if err := scanTopics(b, func(topic string, _ *bool) { found[topic] = true }); err != nil {
			t.Fatalf("scan fails on a frame pubsub decodes: %v", err)
		}
		var want []string
		for _, s := range rpc.GetSubscriptions() {
			if s.Topicid != nil {
				want = append(want, s.GetTopicid())
			}
		}
		for _, m := range rpc.GetPublish() {
			if m.Topic != nil {
				want = append(want, m.GetTopic())
			}
		}
		c := rpc.GetControl()
		for _, x := range c.GetIhave() {
			if x.TopicID != nil {
				want = append(want, x.GetTopicID())
			}
		}
		for _, x := range c.GetGraft() {
			if x.TopicID != nil {
				want = append(want, x.GetTopicID())
			}
		}
		for _, x := range c.GetPrune() {
			if x.TopicID != nil {
				want = append(want, x.GetTopicID())
			}
		}
		if p := rpc.GetPartial(); p != nil && p.TopicID != nil {
			want = append(want, p.GetTopicID())
		}
		for _, w := range want {
			if !found[w] {
				t.Fatalf("scan missed topic %q (found %v)", w, found)
			}
		}
	})
}
