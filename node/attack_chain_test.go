package node

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Author chains (envelope chain.go): in a sync page, a checked message
// vouches for the messages its author's chain of prev ids names. These
// tests serve hostile pages from a member's store to a running node.

// serveFrom puts raws into n's store as received, so that n's sync serves
// them as they are (a modified client's store).
func serveFrom(t *testing.T, n *testNode, gid store.GroupID, raws ...[]byte) {
	t.Helper()
	var msgs []store.Message
	for _, raw := range raws {
		v, err := envelope.DecodeSigned(raw)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, v.StoreMessage(gid))
	}
	if _, err := n.st.AppendReceived(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// junkSignature is raw with a 64-byte signature that checks for nothing.
func junkSignature(t *testing.T, raw []byte) []byte {
	t.Helper()
	var sm wirepb.SignedMessage
	if err := proto.Unmarshal(raw, &sm); err != nil {
		t.Fatal(err)
	}
	sm.Signature = make([]byte, 64)
	sm.Signature[1] = 9
	out, err := proto.Marshal(&sm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// helloFromMallory has mallory send a text and waits until alice holds it,
// and returns the three nodes' groups.
func helloFromMallory(t *testing.T, a, b, m *testNode, gid string) (ga, gb, gm *group) {
	t.Helper()
	ga, _ = a.group(gid)
	gb, _ = b.group(gid)
	gm, _ = m.group(gid)
	if _, err := m.Send(context.Background(), gid, "hello"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice to hold mallory's hello", func() bool { return hasAll(texts(t, a, gid), "hello") })
	return ga, gb, gm
}

// offlineChain signs count texts of n's own that follow its last stored
// message (seq, clock and prev), as its client would write them offline.
// linked makes each the parent of the next, so a member that holds the
// first's parents can take the run as it comes.
func offlineChain(t *testing.T, n *testNode, g *group, count int, linked bool, text string) []*verified {
	t.Helper()
	g.sendMu.Lock()
	prev, err := n.ownPrev(g)
	g.sendMu.Unlock()
	if err != nil || prev == nil {
		t.Fatalf("%s's last message as prev: %x, %v", n.cfg.displayName, prev, err)
	}
	base := craft(t, n, g, "")
	var chain []*verified
	for i := range count {
		mm := proto.Clone(base).(*wirepb.Message)
		mm.Seq, mm.Lamport, mm.Prev = base.Seq+uint64(i), base.Lamport+uint64(i), prev
		if linked && i > 0 {
			mm.Parents = [][]byte{chain[i-1].ID[:]}
		}
		mm.Body = &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text + " " + string(rune('a'+i))}}}
		v, err := signMessage(n.key, mm)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, v)
		prev = v.ID[:]
	}
	return chain
}

// changedText is v with its text replaced after signing, and the id the
// changed message has.
func changedText(t *testing.T, v *verified, text string) ([]byte, store.MessageID) {
	t.Helper()
	tm := proto.Clone(v.Msg).(*wirepb.Message)
	tm.Body = &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text}}}
	body, err := envelope.MarshalMessage(tm)
	if err != nil {
		t.Fatal(err)
	}
	var sm wirepb.SignedMessage
	if err := proto.Unmarshal(v.Raw, &sm); err != nil {
		t.Fatal(err)
	}
	sm.Message = body
	out, err := proto.Marshal(&sm)
	if err != nil {
		t.Fatal(err)
	}
	return out, envelope.MessageID(body)
}

// Mallory forges a message in bob's name and has it vouched for by a chain:
// x "by bob" (seq 2, her signature), y by herself (validly signed, seq 3,
// prev = x's id), y2 "by bob" (seq 3, prev = x, her signature). Alice pulls
// the page from mallory: x and y2 are refused and counted, y is kept.
func TestAttackChainForgedAcrossAuthors(t *testing.T) {
	a, b, m, gid := attackTrio(t)
	ga, gb, gm := helloFromMallory(t, a, b, m, gid) // mallory's seq 2

	xm := craft(t, b, gb, "bob: pay mallory") // bob's next seq, 2
	x, err := signMessage(m.key, xm)
	if err != nil {
		t.Fatal(err)
	}
	ym := craft(t, m, gm, "mallory vouches") // mallory's seq 3
	if ym.Seq != xm.Seq+1 {
		t.Fatalf("seqs %d, %d", xm.Seq, ym.Seq)
	}
	ym.Prev = x.ID[:]
	y, err := signMessage(m.key, ym)
	if err != nil {
		t.Fatal(err)
	}
	y2m := proto.Clone(ym).(*wirepb.Message)
	y2m.Author = b.pub
	y2, err := signMessage(m.key, y2m)
	if err != nil {
		t.Fatal(err)
	}
	waitSyncIdle(t, a)
	serveFrom(t, m, ga.rec.ID, x.Raw, y.Raw, y2.Raw)

	before := drop(a, envelope.ErrBadSignature)
	if _, err := pullNow(t, a, gid, m.ID()); err != nil {
		t.Fatal(err)
	}
	if !holds(t, a, ga.rec.ID, y.ID) {
		t.Fatal("mallory's own, validly signed message was not kept")
	}
	for name, id := range map[string]store.MessageID{"x": x.ID, "y2": y2.ID} {
		if holds(t, a, ga.rec.ID, id) {
			t.Fatalf("forgery %s in bob's name was accepted", name)
		}
	}
	if got := drop(a, envelope.ErrBadSignature) - before; got != 2 {
		t.Fatalf("bad-signature refusals %d, want 2 (x and y2)", got)
	}
}

// Bob's chain of seq 2..6, written offline, reaches alice only through
// mallory, who serves seq 2, 3 and 5 with junk signatures and seq 4 with
// its text changed. Alice keeps 6 (its own signature) and 5 (vouched for by
// 6); 4 is refused, and so are 3 and 2, which only the tampered 4 could
// have vouched for. Each refusal is counted.
func TestAttackChainTamperedMiddle(t *testing.T) {
	a, b, m, gid := attackTrio(t)
	ga, _ := a.group(gid)
	gb, _ := b.group(gid)

	chain := offlineChain(t, b, gb, 5, false, "bob")
	tampered, tamperedID := changedText(t, chain[2], "bob: pay mallory")
	waitSyncIdle(t, a)
	serveFrom(t, m, ga.rec.ID, junkSignature(t, chain[0].Raw), junkSignature(t, chain[1].Raw), tampered,
		junkSignature(t, chain[3].Raw), chain[4].Raw)

	before := drop(a, envelope.ErrBadSignature)
	if _, err := pullNow(t, a, gid, m.ID()); err != nil {
		t.Fatal(err)
	}
	for i, v := range chain {
		if want := i >= 3; holds(t, a, ga.rec.ID, v.ID) != want {
			t.Fatalf("bob's seq %d held: %v, want %v", v.Msg.Seq, !want, want)
		}
	}
	if holds(t, a, ga.rec.ID, tamperedID) {
		t.Fatal("the tampered message was accepted")
	}
	if got := drop(a, envelope.ErrBadSignature) - before; got != 3 {
		t.Fatalf("bad-signature refusals %d, want 3 (seq 2, 3, 4)", got)
	}
}

// A bulk sender's batches reach the members sealed together, and a member
// checks such a bundle as a page (receive.go, verifyBundle). Mallory
// publishes hostile bundles on the group's topic; alice refuses each whole
// envelope (one bad-signature refusal each) and stores none of it:
//   - x "by bob" (her signature) vouched for by her own validly signed y,
//     which names x as prev: vouching never crosses authors;
//   - bob's genuine chain of three (written offline, relayed by her) with
//     the middle one's text changed: the last vouches only for the id it
//     names, so the changed one is checked alone.
//
// The same chain untouched is then accepted whole.
func TestAttackChainForgedInGossipBundle(t *testing.T) {
	ctx := context.Background()
	a, b, m, gid := attackTrio(t)
	ga, gb, gm := helloFromMallory(t, a, b, m, gid)
	waitTopicPeers(t, gid, a, m)

	publish := func(raws ...[]byte) {
		t.Helper()
		if err := gm.topic.Publish(ctx, vtSealEpoch(t, gm, raws...)); err != nil {
			t.Fatal(err)
		}
	}
	refusals := func() uint64 { return drop(a, envelope.ErrBadSignature) }

	xm := craft(t, b, gb, "bob: pay mallory")
	x, err := signMessage(m.key, xm)
	if err != nil {
		t.Fatal(err)
	}
	ym := craft(t, m, gm, "mallory vouches")
	ym.Prev = x.ID[:]
	y, err := signMessage(m.key, ym)
	if err != nil {
		t.Fatal(err)
	}
	before := refusals()
	publish(x.Raw, y.Raw)
	waitFor(t, "alice to refuse the cross-author bundle", func() bool { return refusals() > before })
	for name, id := range map[string]store.MessageID{"x": x.ID, "y": y.ID} {
		if holds(t, a, ga.rec.ID, id) {
			t.Fatalf("%s of the refused bundle was stored", name)
		}
	}

	chain := offlineChain(t, b, gb, 3, true, "bob run")
	tampered, _ := changedText(t, chain[1], "bob: pay mallory")
	before = refusals()
	publish(chain[0].Raw, tampered, chain[2].Raw)
	waitFor(t, "alice to refuse the tampered bundle", func() bool { return refusals() > before })
	for i, v := range chain {
		if holds(t, a, ga.rec.ID, v.ID) {
			t.Fatalf("bob's message %d of the refused bundle was stored", i)
		}
	}

	publish(chain[0].Raw, chain[1].Raw, chain[2].Raw)
	waitFor(t, "alice to store bob's untouched run", func() bool {
		return holds(t, a, ga.rec.ID, chain[0].ID) && holds(t, a, ga.rec.ID, chain[1].ID) && holds(t, a, ga.rec.ID, chain[2].ID)
	})
	if got := refusals() - before; got != 1 {
		t.Fatalf("bad-signature refusals since the tampered bundle %d, want 1", got)
	}
}
