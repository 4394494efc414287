package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/p2p"
)

const testTimeout = 30 * time.Second * timeoutFactor

type testNode struct {
	*Node
	key crypto.PrivKey
	dir string
}

// newTestNode starts a node on loopback with mDNS off. dir "" means an
// in-memory store.
func newTestNode(t testing.TB, name, dir string, opts ...Option) *testNode {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return startTestNode(t, name, dir, key, opts...)
}

func startTestNode(t testing.TB, name, dir string, key crypto.PrivKey, opts ...Option) *testNode {
	t.Helper()
	base := []Option{
		WithKey(key),
		WithDisplayName(name),
		WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)),
	}
	if dir == "" {
		base = append(base, WithInMemoryStore())
	}
	n, err := New(dir, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, key: key, dir: dir}
	t.Cleanup(tn.stop)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tn
}

// stop closes the node and its store (idempotent).
func (tn *testNode) stop() { tn.Node.Close() }

func (tn *testNode) addrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: tn.ID(), Addrs: tn.Host().ListenAddrs()}
}

func connect(t testing.TB, a, b *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := a.Host().Connect(ctx, b.addrInfo(), p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes. It is a bounded
// wait on observable state, not a sleep standing in for synchronisation.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForOr(t, what, cond, nil)
}

// waitForOr is waitFor that, on timeout, also reports what explain says of
// the state that kept cond false.
func waitForOr(t testing.TB, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			if explain != nil {
				t.Fatalf("timed out waiting for %s (%s)", what, explain())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func texts(t testing.TB, n *testNode, group string) []string {
	t.Helper()
	h, err := n.History(group, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range h {
		if m.Kind == "text" {
			out = append(out, m.Text)
		}
	}
	return out
}

// ids returns the ids of a group's whole history in display order, paging
// backwards through it as a front end would.
func ids(t testing.TB, n *testNode, group string) []string {
	t.Helper()
	var out []string
	before := ""
	for {
		h, err := n.History(group, before, 1000)
		if err != nil {
			t.Fatal(err)
		}
		page := make([]string, len(h))
		for i, m := range h {
			page[i] = m.ID
		}
		out = append(page, out...)
		if len(h) < 1000 {
			return out
		}
		before = h[0].Cursor
	}
}

func hasAll(have []string, want ...string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// admitRaw admits x to the others' pubsub and them to x's, as a membership
// proof in a sync handshake would (for tests whose x runs no sync).
func admitRaw(x *testNode, others ...*testNode) {
	for _, o := range others {
		o.Host().AdmitPubSub(x.ID())
		x.Host().AdmitPubSub(o.ID())
	}
}
