package p2p

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// New builds its GossipSub from PubSubOptions and Join subscribes with
// SubscribeOptions: the exported functions are what the host runs, not a
// copy of it (cmd/parley-bench's baseline relies on that).
func TestHostUsesExportedPubSubOptions(t *testing.T) {
	calls := func(file, outer string) map[string]bool {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		inner := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := c.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != outer {
				return true
			}
			ast.Inspect(c, func(n ast.Node) bool {
				if ic, ok := n.(*ast.CallExpr); ok {
					if id, ok := ic.Fun.(*ast.Ident); ok {
						inner[id.Name] = true
					}
				}
				return true
			})
			return false
		})
		return inner
	}
	if !calls("host.go", "NewGossipSub")["PubSubOptions"] {
		t.Error("host.go: pubsub.NewGossipSub is not given PubSubOptions(...)")
	}
	if !calls("topic.go", "Subscribe")["SubscribeOptions"] {
		t.Error("topic.go: Subscribe is not given SubscribeOptions()")
	}
}

// A plain GossipSub built from PubSubOptions speaks with a Host both ways,
// and what the Host publishes carries no author, seqno or signature and is
// named by its content hash.
func TestPubSubOptionsInteroperate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), floodTimeout)
	defer cancel()
	const topic = "/parley/test/options"
	h := newLoopbackHost(t)
	ht, err := h.Join(topic, nil)
	if err != nil {
		t.Fatal(err)
	}

	raw, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	t.Cleanup(func() { rcancel(); raw.Close() })
	ps, err := pubsub.NewGossipSub(rctx, raw, PubSubOptions(DefaultMaxMessageSize)...)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	rsub, err := rt.Subscribe(SubscribeOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rsub.Cancel)

	if err := raw.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.ListenAddrs()}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "both sides to see each other on the topic", func() bool {
		return len(ht.ListPeers()) == 1 && len(rt.ListPeers()) == 1
	})

	want := []byte("from the host")
	if err := ht.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	m, err := rsub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != string(want) {
		t.Fatalf("raw side got %q, want %q", m.Data, want)
	}
	if len(m.From) != 0 || len(m.Seqno) != 0 || len(m.Signature) != 0 || len(m.Key) != 0 {
		t.Errorf("host's message carries author %x, seqno %x, signature %x, key %x; want none", m.From, m.Seqno, m.Signature, m.Key)
	}
	if m.ID != contentID(m.Message) {
		t.Errorf("message id %x is not the content hash", m.ID)
	}

	back := []byte("from the raw side")
	if err := rt.Publish(ctx, back); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(floodTimeout)
	for got := false; !got; {
		select {
		case hm := <-ht.Messages():
			if hm.Local {
				continue // our own, delivered too
			}
			if string(hm.Data) != string(back) || hm.From != raw.ID() {
				t.Fatalf("host got %q from %s, want %q from %s", hm.Data, hm.From, back, raw.ID())
			}
			got = true
		case <-deadline:
			t.Fatal("host never delivered the raw side's message")
		}
	}
}
