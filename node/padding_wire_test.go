package node

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
)

// wireClasses is every size a sealed envelope may have on the wire: one per
// padding bucket (the envelope around a padded bundle adds a fixed amount).
func wireClasses() map[int]int {
	env := func(bucket int) int {
		return proto.Size(&wirepb.Envelope{Version: envelope.EnvelopeVersion, Nonce: make([]byte, 24),
			Ciphertext: make([]byte, bucket+16), Epoch: make([]byte, envelope.EpochIDLen)})
	}
	out := map[int]int{}
	for b := envelope.MinPadBucket; b <= envelope.MaxEnvelopeSize/2; b *= 2 {
		out[env(envelope.PadBucket(b))] = envelope.PadBucket(b)
	}
	last := envelope.PadBucket(envelope.MaxEnvelopeSize/2 + 1) // the largest bucket
	out[env(last)] = last
	return out
}

// Every envelope that crosses the wire, whatever it carries (texts of 1 byte
// to 16 KiB, reactions, edits, polls, membership ops, receipts, a batch of
// messages sent at once, a direct conversation), is one of the size classes.
// The tap reads the GossipSub frames each node writes to its peers.
func TestEveryEnvelopeOnTheWireIsASizeClass(t *testing.T) {
	ctx := context.Background()
	// No send linger: each text below is sealed alone, so every padding
	// length is met (TestSendLingerBundlesHeldPublishes covers held bundles).
	_, nodes, taps := tappedMockNodes(t, 3, WithReceiptInterval(100*time.Millisecond), WithSendLinger(0))
	a, b, c := nodes[0], nodes[1], nodes[2]
	gid := formGroup(t, "Pad", a, b, c)

	// Every length up to past the first bucket (so every padding length is
	// met once, the awkward ones included), then a few up to the largest text.
	var lengths []int
	for l := 1; l <= 700; l++ {
		lengths = append(lengths, l)
	}
	lengths = append(lengths, 900, 1000, 1400, 2000, 3000, 4000, 6000, 8000, 12000, MaxTextLen)
	var want []string
	var first, last Message
	for i, l := range lengths {
		text := fmt.Sprintf("%d:", i) + strings.Repeat("x", l)[:max(0, l-len(fmt.Sprintf("%d:", i)))]
		if l < 4 {
			text = strings.Repeat(string(rune('a'+i)), l)
		}
		m, err := a.Send(ctx, gid, text)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = m
		}
		last = m
		want = append(want, text)
	}
	// A burst: queued together, sent as bundles of several messages.
	var wg sync.WaitGroup
	for i := range 40 {
		text := fmt.Sprintf("burst %d %s", i, strings.Repeat("y", i*37))
		want = append(want, text)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Send(ctx, gid, text); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := b.React(ctx, gid, first.ID, "👍", false); err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(ctx, gid, first.ID, "edited"); err != nil {
		t.Fatal(err)
	}
	poll, err := c.CreatePoll(ctx, gid, "lunch?", []string{"yes", "no"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to see the poll", func() bool { _, err := b.Poll(gid, poll.ID); return err == nil })
	if err := b.Vote(ctx, gid, poll.ID, []int{0}); err != nil {
		t.Fatal(err)
	}
	makeAdmin(t, a, b, gid) // membership ops
	if err := b.RenameGroup(ctx, gid, "Padded"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.CreateInvite(ctx, gid, InviteOptions{Uses: 1}); err != nil {
		t.Fatal(err)
	}
	// A direct conversation between a and c.
	addCode(t, a, c, false)
	if _, err := a.SendDM(ctx, c.ID().String(), "psst"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to read the direct message", func() bool { d := dmOf(c, a.ID().String()); return d != "" && slices.Contains(texts(t, c, d), "psst") })
	// The first may reach c by the pull that follows the offer, before
	// either side's pubsub knows the other on the conversation's topic; the
	// second goes by gossip.
	dm := dmOf(c, a.ID().String())
	waitTopicPeers(t, dm, a, c)
	if _, err := a.SendDM(ctx, c.ID().String(), "psst again"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to read the second direct message", func() bool { return slices.Contains(texts(t, c, dm), "psst again") })
	want[0] = "edited"
	for _, n := range []*testNode{a, b, c} {
		waitFor(t, n.cfg.displayName+" to hold every text", func() bool { return hasAll(texts(t, n, gid), want...) })
	}
	// Receipts: a learns from b's and c's that both store its message.
	waitFor(t, "receipts from b and c", func() bool {
		d, err := a.Delivery(gid, []string{last.ID})
		return err == nil && d[last.ID].StoredBy == 3
	})

	classes := wireClasses()
	seen := map[int]int{}
	topics := map[string]bool{}
	total := 0
	for i, tap := range taps {
		for _, m := range tap.published(t) {
			size := len(m.GetData())
			if _, ok := classes[size]; !ok {
				t.Errorf("node %d sent an envelope of %d bytes on %q: not a size class (classes %v)", i, size, m.GetTopic(), sortedKeys(classes))
			}
			seen[size]++
			topics[m.GetTopic()] = true
			total++
		}
	}
	t.Logf("%d envelopes on the wire, by size: %v (bucket by size %v)", total, seen, classes)
	if total < len(lengths) || len(seen) < 4 || len(topics) < 2 {
		t.Fatalf("the tap saw %d envelopes in %d classes on %d topics: it is not seeing the wire", total, len(seen), len(topics))
	}
}

func sortedKeys(m map[int]int) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
