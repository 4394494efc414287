package node

import (
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
	g.nextSeq++
	v, err := signMessage(n.key, m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
