package node

import (
	"context"
	"testing"

	"github.com/parley-chat/parley/node/wirepb"
)

// buildText signs the next text message of n in g without publishing it.
func buildText(t testing.TB, n *Node, g *group, text string) *verified {
	t.Helper()
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	stats, err := n.st.GroupStats(g.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := &wirepb.Message{Version: WireVersion, GroupId: g.rec.ID[:], Author: n.pub, Seq: g.nextSeq,
		Lamport: stats.MaxLamport + 1 + g.nextSeq, TimestampMs: n.cfg.now().UnixMilli(),
		Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text}}}}
	if !g.mem.legacy() {
		g.mem.mu.Lock()
		cur := g.mem.log.State().Current().ID
		g.mem.mu.Unlock()
		m.Epoch = cur[:]
	}
	g.nextSeq++
	v, err := signMessage(n.key, m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// makeAdmin has a promote b to admin in group and waits until b knows.
func makeAdmin(t testing.TB, a, b *testNode, group string) {
	t.Helper()
	waitTopicPeers(t, group, a, b)
	if err := a.Promote(context.Background(), group, b.ID().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to see itself admin", func() bool {
		ms, err := b.MemberList(group)
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Self && m.Role == "admin" {
				return true
			}
		}
		return false
	})
}
