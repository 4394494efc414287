package node

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A member of one of a node's groups is not told the node's other groups
// (issue 15): a shares "Ours" with b and "Theirs" with c. Everything a's
// GossipSub writes to b (subscriptions, messages, IHAVE/GRAFT/PRUNE) names
// only Ours' topic, and to c only Theirs', while both groups chat; b and c,
// who share nothing, get no pubsub frame from each other at all.
func TestMemberIsToldOnlyItsGroupsTopics(t *testing.T) {
	ctx := context.Background()
	_, nodes, taps := tappedMockNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ours := formGroup(t, "Ours", a, b)
	theirs := formGroup(t, "Theirs", a, c)
	for i, s := range []struct {
		n     *testNode
		group string
	}{{a, ours}, {b, ours}, {a, theirs}, {c, theirs}} {
		if _, err := s.n.Send(ctx, s.group, "m"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "b to read a", func() bool { return hasAll(texts(t, b, ours), "m0") })
	waitFor(t, "a to read b and c", func() bool { return hasAll(texts(t, a, ours), "m1") && hasAll(texts(t, a, theirs), "m3") })
	waitFor(t, "c to read a", func() bool { return hasAll(texts(t, c, theirs), "m2") })

	topicOf := func(ref string) string {
		g, err := a.group(ref)
		if err != nil {
			t.Fatal(err)
		}
		return g.topic.Name()
	}
	allowed := map[peer.ID]string{b.ID(): topicOf(ours), c.ID(): topicOf(theirs)}
	told := map[peer.ID]int{}
	for _, f := range taps[0].frames(t) {
		want := allowed[f.to]
		for _, topic := range frameTopics(f) {
			if topic != want {
				t.Errorf("a told %s of topic %s (its group with it is %s)", f.to, topic, want)
			}
			told[f.to]++
		}
	}
	if told[b.ID()] == 0 || told[c.ID()] == 0 {
		t.Fatalf("the tap saw no topic told to b or c: %v", told)
	}
	for i, x := range []*testNode{b, c} {
		other := []*testNode{c, b}[i]
		for _, f := range taps[1+i].frames(t) {
			if f.to == other.ID() {
				t.Errorf("%s wrote a pubsub frame to %s, with whom it shares no group", x.cfg.displayName, other.cfg.displayName)
			}
		}
	}
}

// frameTopics lists every topic a tapped frame names.
func frameTopics(f tapped) []string {
	var out []string
	for _, s := range f.rpc.GetSubscriptions() {
		out = append(out, s.GetTopicid())
	}
	for _, m := range f.rpc.GetPublish() {
		out = append(out, m.GetTopic())
	}
	c := f.rpc.GetControl()
	for _, x := range c.GetIhave() {
		out = append(out, x.GetTopicID())
	}
	for _, x := range c.GetGraft() {
		out = append(out, x.GetTopicID())
	}
	for _, x := range c.GetPrune() {
		out = append(out, x.GetTopicID())
	}
	return out
}
