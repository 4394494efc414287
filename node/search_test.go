package node

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/searchterms"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

func searchIDs(t testing.TB, l *Local, q string, o SearchOptions) []string {
	t.Helper()
	res, err := l.Search(q, o)
	if err != nil {
		t.Fatalf("Search %q: %v", q, err)
	}
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Message.ID
		if r.Cursor != r.Message.Cursor || r.GroupID != r.Message.Group || r.GroupName == "" {
			t.Fatalf("result %+v", r)
		}
	}
	return out
}

// bruteDoc is one version (a text, poll or edit) read back from History.
type bruteDoc struct {
	group, shown string
	time         int64
	lamport      uint64
	id           string
	terms        []string
}

func (d bruteDoc) less(e bruteDoc) int {
	switch {
	case d.time != e.time:
		return -cmpInt(d.time, e.time)
	case d.group != e.group: // the index orders a millisecond by group tag, then id
		return strings.Compare(d.group, e.group)
	}
	return strings.Compare(d.id, e.id)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestSearchMatchesHistoryScan checks Search against a brute-force scan of
// every group's history: a random corpus over three groups with unicode
// words, polls and edits, every one- and two-word query of the vocabulary.
func TestSearchMatchesHistoryScan(t *testing.T) {
	n := newTestNode(t, "ana", "")
	ctx := context.Background()
	var groups []string
	for _, name := range []string{"Alpha", "Beta", "Γάμμα"} {
		gi, err := n.CreateGroup(ctx, name, false)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, gi.ID)
	}
	vocab := []string{"Hello", "world", "Grüße", "STRASSE", "straße", "日本語", "Cafe\u0301", "café", "ok", "parley",
		"Один", "два", "naïve", "42", "x1", "a"}
	rng := rand.New(rand.NewPCG(3, 5))
	sentence := func() string {
		var w []string
		for range 1 + rng.IntN(5) {
			w = append(w, vocab[rng.IntN(len(vocab))])
		}
		return strings.Join(w, []string{" ", ", ", "! ", "-"}[rng.IntN(4)])
	}
	var texts []Message
	for i := range 240 {
		gi := groups[rng.IntN(len(groups))]
		g, err := n.group(gi)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i%17 == 5: // a poll
			opts := []string{sentence(), sentence()}
			if _, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: sentence(), Options: opts}}}); err != nil {
				t.Fatal(err)
			}
		case i%5 == 3 && len(texts) > 0: // an edit of an earlier text
			tm := texts[rng.IntN(len(texts))]
			target, _ := hex.DecodeString(tm.ID)
			tg, _ := n.group(tm.Group)
			if _, err := n.publish(ctx, tg, &wirepb.Body{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: target, Text: sentence()}}}); err != nil {
				t.Fatal(err)
			}
		default:
			m, err := n.Send(ctx, gi, sentence())
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, m)
		}
	}
	// The truth, from every stored message (edits are folded out of the
	// history, so read the store itself).
	var docs []bruteDoc
	for _, gi := range groups {
		var stored []store.Stored
		if err := n.Store().After(mustGID(t, gi), nil, func(st store.Stored) bool { stored = append(stored, st); return true }); err != nil {
			t.Fatal(err)
		}
		for _, st := range stored {
			v, err := decodeForTest(st.Raw)
			if err != nil {
				t.Fatal(err)
			}
			terms, of := searchterms.ForBody(v)
			if len(terms) == 0 {
				continue
			}
			id := hex.EncodeToString(st.ID[:])
			shown := id
			if of != (store.MessageID{}) {
				shown = hex.EncodeToString(of[:])
			}
			docs = append(docs, bruteDoc{group: gi, shown: shown, time: timeOfForTest(st.Raw), lamport: st.Lamport, id: id, terms: terms})
		}
	}
	slices.SortFunc(docs, bruteDoc.less)
	brute := func(q []string, group string) []string {
		var out []string
		seen := map[string]bool{}
		for _, d := range docs {
			if (group != "" && d.group != group) || seen[d.shown] {
				continue
			}
			ok := true
			for _, w := range q {
				ok = ok && slices.Contains(d.terms, w)
			}
			if ok {
				seen[d.shown] = true
				out = append(out, d.shown)
			}
		}
		return out
	}
	checked := 0
	for _, a := range vocab {
		for _, b := range append(vocab, "") {
			q := a + " " + b
			terms := searchterms.Tokenize(q)
			if len(terms) == 0 {
				if _, err := n.Search(q, SearchOptions{}); !errors.Is(err, ErrInvalidInput) {
					t.Fatalf("Search %q with no word: %v", q, err)
				}
				continue
			}
			for _, gi := range []string{"", groups[2]} {
				want := brute(terms, gi)
				got := searchIDs(t, n.Local, q, SearchOptions{Group: gi, Limit: MaxSearchLimit})
				if !slices.Equal(got, want) {
					t.Fatalf("Search %q in %q: got %d %v, want %d %v", q, gi, len(got), got, len(want), want)
				}
				if len(want) > 2 {
					if got := searchIDs(t, n.Local, q, SearchOptions{Group: gi, Limit: 2}); !slices.Equal(got, want[:2]) {
						t.Fatalf("Search %q limit 2 = %v, want %v", q, got, want[:2])
					}
				}
				checked++
			}
		}
	}
	t.Logf("%d queries checked over %d versions", checked, len(docs))
}

func mustGID(t testing.TB, s string) store.GroupID {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != store.GroupIDLen {
		t.Fatalf("group id %q", s)
	}
	return store.GroupID(b)
}

func mustMID(t testing.TB, s string) store.MessageID {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != store.MessageIDLen {
		t.Fatalf("message id %q", s)
	}
	return store.MessageID(b)
}

// TestSearchFindsReceived: a message that arrives by gossip and one that
// arrives by sync after a partition are both found; HistoryAround opens
// each in context; a deleted (unindexed) one is not found any more.
func TestSearchFindsReceived(t *testing.T) {
	if raceEnabled {
		t.Skip("mocknet's teardown lets a GossipSub stream survive a cut under -race (see TestPartitionHeal); runs in the plain pass")
	}
	mn, nodes := mockNodes(t, 3, WithSyncInterval(0))
	a, b, c := nodes[0], nodes[1], nodes[2]
	g := formGroup(t, "Zoo", a, b, c)
	ctx := context.Background()
	before := sendN(t, a, g, "filler", 3)
	gossip, err := a.Send(ctx, g, "the gossiping Zebra")
	if err != nil {
		t.Fatal(err)
	}
	after := sendN(t, a, g, "more", 3)
	waitFor(t, "b finds the gossiped message", func() bool {
		return slices.Equal(searchIDs(t, b.Local, "zebra gossiping", SearchOptions{}), []string{gossip.ID})
	})
	// The context after it is there once the messages a sent after it are.
	waitFor(t, "b to hold a's later messages", func() bool {
		held := texts(t, b, g)
		return !slices.ContainsFunc(after, func(s string) bool { return !slices.Contains(held, s) })
	})
	ctxMsgs, err := b.HistoryAround(g, gossip.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ctxMsgs {
		got = append(got, m.Text)
	}
	want := append(append(append([]string{}, before[1:]...), gossip.Text), after[:2]...)
	if !slices.Equal(got, want) {
		t.Fatalf("HistoryAround = %q, want %q", got, want)
	}
	if _, err := b.HistoryAround(g, strings.Repeat("ab", 32), 2); !errors.Is(err, ErrMessageNotHeld) {
		t.Fatalf("HistoryAround of an unknown id: %v", err)
	}

	// Gossiped messages are indexed after they are stored too: b's indexer
	// writes the words of a's live message with no search asking for it.
	if _, err := a.Send(ctx, g, "a gossiped Wombat"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's indexer to write the gossiped message's words", func() bool {
		found := false
		if err := b.st.Search([]string{"wombat"}, nil, func(store.SearchHit) bool { found = true; return false }); err != nil {
			t.Fatal(err)
		}
		return found
	})

	partition(t, mn, []*testNode{c}, []*testNode{a, b})
	synced, err := a.Send(ctx, g, "the synced Quokka")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b has it", func() bool { return len(searchIDs(t, b.Local, "quokka", SearchOptions{})) == 1 })
	if got := searchIDs(t, c.Local, "quokka", SearchOptions{}); len(got) != 0 {
		t.Fatal("partition leaked")
	}
	heal(t, mn, []*testNode{c}, []*testNode{a, b})
	// Synced messages are indexed after they are stored (indexlater.go):
	// the store's own search, which indexes nothing first, finds it once
	// c's indexer has run, with no search asking for it.
	waitFor(t, "c's indexer to write the synced message's words", func() bool {
		found := false
		if err := c.st.Search([]string{"quokka"}, nil, func(store.SearchHit) bool { found = true; return false }); err != nil {
			t.Fatal(err)
		}
		return found
	})
	waitFor(t, "c finds the synced message", func() bool {
		return slices.Equal(searchIDs(t, c.Local, "QUOKKA synced", SearchOptions{Group: "Zoo"}), []string{synced.ID})
	})

	// What a delete does before erasing the body.
	if err := c.unindexMessage(mustGID(t, g), mustMID(t, synced.ID), ""); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, c.Local, "quokka", SearchOptions{}); len(got) != 0 {
		t.Fatalf("unindexed message still found: %v", got)
	}
}

func decodeForTest(raw []byte) (*wirepb.Body, error) {
	v, err := envelope.DecodeSigned(raw)
	if err != nil {
		return nil, err
	}
	return v.Msg.Body, nil
}

// timeOfForTest is a stored message's timestamp (ms).
func timeOfForTest(raw []byte) int64 {
	v, err := envelope.DecodeSigned(raw)
	if err != nil {
		return 0
	}
	return v.Msg.TimestampMs
}
