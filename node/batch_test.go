package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
	"google.golang.org/protobuf/proto"
)

func leavesOf(n int) []store.MessageID {
	out := make([]store.MessageID, n)
	for i := range out {
		out[i] = sha256.Sum256(fmt.Appendf(nil, "leaf %d", i))
	}
	return out
}

// Every leaf's proof leads to the root, for every batch size, and any change
// to the leaf, index, count or path leads elsewhere or is refused.
func TestMerkleProofs(t *testing.T) {
	for n := 2; n <= MaxBatchLeaves; n++ {
		if n > 40 && n != 63 && n != 64 && n != 65 && n != 255 && n != MaxBatchLeaves {
			continue
		}
		leaves := leavesOf(n)
		root, paths := merkleProofs(leaves)
		for i, leaf := range leaves {
			got, ok := merkleRoot(leaf, uint32(i), uint32(n), paths[i])
			if !ok || !bytes.Equal(got, root) {
				t.Fatalf("n=%d leaf %d: proof does not reach the root", n, i)
			}
			if len(paths[i]) > 8 {
				t.Fatalf("n=%d: path of %d hashes", n, len(paths[i]))
			}
			other := leaves[(i+1)%n]
			if got, ok := merkleRoot(other, uint32(i), uint32(n), paths[i]); ok && bytes.Equal(got, root) {
				t.Fatalf("n=%d: leaf %d's proof also proves another leaf", n, i)
			}
			if got, ok := merkleRoot(leaf, uint32((i+1)%n), uint32(n), paths[i]); ok && bytes.Equal(got, root) {
				t.Fatalf("n=%d: leaf %d's proof also holds at another index", n, i)
			}
			if len(paths[i]) > 0 {
				if _, ok := merkleRoot(leaf, uint32(i), uint32(n), paths[i][:len(paths[i])-1]); ok {
					t.Fatalf("n=%d: a short path was accepted", n)
				}
			}
			if _, ok := merkleRoot(leaf, uint32(i), uint32(n), append(paths[i], root)); ok {
				t.Fatalf("n=%d: a long path was accepted", n)
			}
		}
	}
	leaf := leavesOf(1)[0]
	for _, c := range []struct{ index, count uint32 }{{0, 0}, {0, 1}, {2, 2}, {0, MaxBatchLeaves + 1}} {
		if _, ok := merkleRoot(leaf, c.index, c.count, nil); ok {
			t.Fatalf("index %d of %d accepted", c.index, c.count)
		}
	}
}

// A batch is signed once; each message verifies on its own (cold cache, as
// a peer that gets one by sync), and keeps its proof in the stored form.
func TestSignBatchVerifiesEachMessage(t *testing.T) {
	g := vtKeys(t, 0x21).ID
	bob, mallory := vtKey(t, 1), vtKey(t, 2)
	var ms []*wirepb.Message
	for i := range 5 {
		ms = append(ms, vtText(t, g, bob, uint64(i+1), uint64(i+1), fmt.Sprintf("m%d", i)))
	}
	vs, err := signBatch(bob, ms)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		got, err := verifySigned(g, v.Raw) // a fresh Verifier each: every signature is checked
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.ID != v.ID || got.Author != vtPeer(t, bob) || !bytes.Equal(got.Raw, v.Raw) {
			t.Fatalf("message %d: verified as %x by %s", i, got.ID, got.Author)
		}
		var sm wirepb.SignedMessage
		if err := proto.Unmarshal(got.Raw, &sm); err != nil || sm.Batch.GetCount() != 5 || sm.Batch.GetIndex() != uint32(i) {
			t.Fatalf("message %d: stored form lost its proof: %v", i, err)
		}
	}

	tamper := func(raw []byte, f func(*wirepb.SignedMessage)) []byte {
		var sm wirepb.SignedMessage
		if err := proto.Unmarshal(raw, &sm); err != nil {
			t.Fatal(err)
		}
		f(&sm)
		return vtMarshal(t, &sm)
	}
	forged, err := signBatch(mallory, []*wirepb.Message{
		vtText(t, g, bob, 9, 9, "in bob's name"), vtText(t, g, bob, 10, 10, "x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := signBatch(bob, []*wirepb.Message{vtText(t, g, bob, 7, 7, "a"), vtText(t, g, bob, 8, 8, "b")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"signed by another key", forged[0].Raw, ErrBadSignature},
		{"wrong index", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Index = 2 }), ErrBadSignature},
		{"wrong count", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Count = 6 }), ErrBadSignature},
		{"index past count", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Index = 5 }), ErrMalformed},
		{"count 1", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Count, sm.Batch.Index = 1, 0 }), ErrMalformed},
		{"short sibling", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Path[0] = sm.Batch.Path[0][:31] }), ErrMalformed},
		{"path cut", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch.Path = sm.Batch.Path[1:] }), ErrMalformed},
		{"another batch's signature", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) {
			var o wirepb.SignedMessage
			if err := proto.Unmarshal(other[0].Raw, &o); err != nil {
				t.Fatal(err)
			}
			sm.Signature = o.Signature
		}), ErrBadSignature},
		{"proof dropped", tamper(vs[1].Raw, func(sm *wirepb.SignedMessage) { sm.Batch = nil }), ErrBadSignature},
	}
	// With a warm cache too: the cache must never let a forgery through.
	for _, warm := range []bool{false, true} {
		for _, c := range cases {
			ver := envelope.NewVerifier()
			if warm {
				for _, v := range append(append([]*verified{}, vs...), other...) {
					if _, err := ver.Signed(g, v.Raw); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := ver.Signed(g, c.raw); !errors.Is(err, c.want) {
				t.Errorf("%s (warm %v): %v, want %v", c.name, warm, err, c.want)
			}
		}
	}
}

// The validator takes a bundle whole: all new, some already held, all held,
// or one bad message among good ones.
func TestValidateBundles(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t, "alice", "", WithSyncInterval(0))
	g := legacyGroup(t, n, "Bundles") // anyone with the group key is a member here
	_ = ctx
	bob, mallory := vtKey(t, 1), vtKey(t, 2)
	from := vtPeer(t, bob)
	var ms []*wirepb.Message
	for i := range 4 {
		ms = append(ms, vtText(t, g.rec.ID, bob, uint64(i+1), uint64(i+2), fmt.Sprintf("b%d", i)))
	}
	vs, err := signBatch(bob, ms)
	if err != nil {
		t.Fatal(err)
	}
	raws := func(vs ...*verified) [][]byte {
		out := make([][]byte, len(vs))
		for i, v := range vs {
			out[i] = v.Raw
		}
		return out
	}
	fresh := func(dec any) int {
		got, _ := dec.(*received)
		if got == nil {
			return 0
		}
		return len(got.vs)
	}

	if verdict, dec := n.validate(g, from, vtSeal(t, &g.keys, raws(vs...)...)); verdict != p2p.Accept || fresh(dec) != 4 {
		t.Fatalf("fresh bundle: %v with %d", verdict, fresh(dec))
	}
	if added, err := n.ingest(g, vs[:2], ""); err != nil || added != 2 {
		t.Fatalf("ingest: %d %v", added, err)
	}
	if verdict, dec := n.validate(g, from, vtSeal(t, &g.keys, raws(vs...)...)); verdict != p2p.Accept || fresh(dec) != 2 {
		t.Fatalf("half-held bundle: %v with %d new", verdict, fresh(dec))
	}
	if verdict, dec := n.validate(g, from, vtSeal(t, &g.keys, raws(vs[:2]...)...)); verdict != p2p.Ignore || dec != nil {
		t.Fatalf("held bundle: %v", verdict)
	}
	forged := vtSign(t, mallory, vtText(t, g.rec.ID, bob, 9, 9, "forged"))
	before := n.Drops()[ErrBadSignature.Error()]
	if verdict, dec := n.validate(g, from, vtSeal(t, &g.keys, append(raws(vs[2:]...), forged)...)); verdict != p2p.Reject || dec != nil {
		t.Fatalf("bundle with a forgery: %v", verdict)
	}
	if n.Drops()[ErrBadSignature.Error()] != before+1 {
		t.Fatal("the forgery was not counted")
	}
	tooMany := make([][]byte, MaxBundleMessages+1)
	for i := range tooMany {
		tooMany[i] = []byte{}
	}
	if verdict, _ := n.validate(g, from, vtSeal(t, &g.keys, tooMany...)); verdict != p2p.Reject {
		t.Fatalf("oversized bundle: %v", verdict)
	}
	if verdict, _ := n.validate(g, from, vtSeal(t, &g.keys)); verdict != p2p.Reject {
		t.Fatalf("empty bundle: %v", verdict)
	}
}

// bundles packs in order and never exceeds the envelope or count bounds.
func TestBundlesPacking(t *testing.T) {
	k := vtKeys(t, 0x31)
	var raws [][]byte
	for i := range 600 {
		raws = append(raws, bytes.Repeat([]byte{byte(i)}, 1+(i*37)%(MaxTextLen+512)))
	}
	var got [][]byte
	for _, b := range bundles(raws) {
		if len(b) == 0 || len(b) > MaxBundleMessages {
			t.Fatalf("bundle of %d", len(b))
		}
		env, err := sealEnvelope(&k, b...)
		if err != nil {
			t.Fatal(err)
		}
		if len(env) > MaxEnvelopeSize {
			t.Fatalf("envelope of %d bytes", len(env))
		}
		out, err := openEnvelope(&k, env)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	if len(got) != len(raws) {
		t.Fatalf("%d of %d came back", len(got), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(got[i], raws[i]) {
			t.Fatalf("message %d changed or moved", i)
		}
	}
}

// Concurrent sends become batches signed once and published as bundles; the
// other member stores every message, and a third member that only syncs
// later verifies them one by one from the stored form.
func TestBatchedSendsReachPeersAndSync(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	gi, err := a.CreateGroup(ctx, "Batches", false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := a.Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b dialled a from the invite", func() bool { return b.Host().IsConnected(a.ID()) })
	const sends = 400
	var wg sync.WaitGroup
	errs := make(chan error, sends)
	for i := range sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Send(ctx, gi.ID, fmt.Sprintf("burst %d", i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := sends + 2 // two joins (membership op messages aside)
	waitFor(t, "b holds every message", func() bool {
		return visible(t, b, gi.ID) == want
	})
	batched := 0
	bg, err := b.group(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range vtStoredRaw(t, b, bg.rec.ID) {
		var sm wirepb.SignedMessage
		if err := proto.Unmarshal(raw, &sm); err != nil {
			t.Fatal(err)
		}
		if sm.Batch != nil {
			batched++
		}
	}
	if batched == 0 {
		t.Fatal("no message was sent in a batch: the batch path was not exercised")
	}
	t.Logf("%d of %d messages carried a batch proof", batched, want)

	// carol has a Verifier of her own: she checks the batches afresh.
	c := newTestNode(t, "carol", "")
	makeAdmin(t, a, b, gi.ID) // inviting takes an admin
	code, err = b.Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c synced every message", func() bool {
		return visible(t, c, gi.ID) == want+1
	})
	waitFor(t, "a and c hold the same messages", func() bool {
		return slices.Equal(ids(t, a, gi.ID), ids(t, c, gi.ID))
	})
}

// While a batch is being stored, a send arrives on its own (open-loop load):
// the next batch lingers, gathering the sends that arrive within the send
// linger into one batch (one signature, one envelope).
func TestSendLingerGathersBulkSends(t *testing.T) {
	ctx := context.Background()
	// Long enough that the sends below are all queued before it ends on any
	// machine; the test waits it out once.
	const linger = 2 * time.Second
	a := newTestNode(t, "alice", "", WithSendLinger(linger))
	gi, err := a.CreateGroup(ctx, "Linger", false)
	if err != nil {
		t.Fatal(err)
	}
	const bulk = 5
	var wg sync.WaitGroup
	errs := make(chan error, bulk)
	send := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Send(ctx, gi.ID, fmt.Sprintf("bulk %d", i)); err != nil {
				errs <- err
			}
		}()
	}
	// While "first" is stored, the first bulk send arrives.
	var once sync.Once
	hook := func(g *group) {
		once.Do(func() {
			send(0)
			waitFor(t, "a send queued while a batch is stored", func() bool { return len(g.sendQ) == 1 })
		})
	}
	a.beforeAnswer.Store(&hook)
	if _, err := a.Send(ctx, gi.ID, "first"); err != nil {
		t.Fatal(err)
	}
	a.beforeAnswer.Store(nil)
	for i := 1; i < bulk; i++ {
		send(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	g, err := a.group(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	batches := map[string]int{}
	seen := 0
	for _, raw := range vtStoredRaw(t, a, g.rec.ID) {
		sm, m, err := envelope.UnmarshalSigned(raw)
		if err != nil {
			t.Fatal(err)
		}
		text := m.GetBody().GetText().GetText()
		switch {
		case text == "first":
			if sm.Batch != nil {
				t.Fatalf("the first message went in a batch of %d", sm.Batch.Count)
			}
		case strings.HasPrefix(text, "bulk "):
			seen++
			if sm.Batch == nil {
				t.Fatalf("%q went alone", text)
			}
			batches[string(sm.Signature)]++ // a batch's messages share its signature
		}
	}
	if seen != bulk || len(batches) != 1 {
		t.Fatalf("%d bulk messages stored, in %d batches; want %d in one", seen, len(batches), bulk)
	}
}

// A sender that waits for each answer never waits for the linger: with an
// hour's linger, sends one after another still complete at once.
func TestSendLingerSparesSequentialSends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := newTestNode(t, "alice", "", WithSendLinger(time.Hour))
	gi, err := a.CreateGroup(ctx, "Sequential", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := a.Send(ctx, gi.ID, fmt.Sprintf("one by one %d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

// A sender that sends one message after another, each waiting for its
// answer, is answered at once; but within the send linger its batches are
// held back from publishing and sealed together, so the members open a
// few envelopes for many batches (and check one signature per run). The
// linger is an hour here: only a second envelope's worth held sends them.
func TestSendLingerBundlesHeldPublishes(t *testing.T) {
	ctx := context.Background()
	_, nodes, taps := tappedMockNodes(t, 2, WithSendLinger(time.Hour), WithReceiptInterval(time.Hour))
	a, b := nodes[0], nodes[1]
	gid := formGroup(t, "Held", a, b)
	waitTopicPeers(t, gid, a, b)
	envelopes := func() map[string]int { // a's distinct envelopes, by size
		out := map[string]int{}
		for _, m := range taps[0].published(t) {
			out[string(m.GetData())] = len(m.GetData())
		}
		return out
	}
	before := envelopes()

	const small, big = 30, 4 // four full-length texts pass an envelope's worth
	var want []string
	for i := range small + big {
		text := fmt.Sprintf("held %d", i)
		if i >= small {
			text += strings.Repeat("z", MaxTextLen-len(text))
		}
		want = append(want, text)
		if _, err := a.Send(ctx, gid, text); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, "b to hold every held text", func() bool { return hasAll(texts(t, b, gid), want...) })

	classes := wireClasses()
	var sent []int
	for data, size := range envelopes() {
		if _, old := before[data]; old {
			continue
		}
		if _, ok := classes[size]; !ok {
			t.Errorf("an envelope of %d bytes: not a size class", size)
		}
		sent = append(sent, size)
	}
	t.Logf("%d sends went out in %d envelopes of %v bytes", small+big, len(sent), sent)
	if len(sent) == 0 || len(sent) > 4 {
		t.Fatalf("%d sends went out in %d envelopes, want 1 to 4", small+big, len(sent))
	}
}
