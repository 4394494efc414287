package syncproto

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/store"
)

// heldSeqs is the part of Store the give-up bookkeeping reads: one
// author's held seqs.
type heldSeqs struct {
	Store
	seqs []uint64
}

func (h heldSeqs) AuthorAfter(_ store.GroupID, _ []byte, after uint64, fn func(store.AuthorIndexEntry) bool) error {
	for _, s := range h.seqs {
		if s > after && !fn(store.AuthorIndexEntry{Seq: s}) {
			break
		}
	}
	return nil
}

// An author's seq 2 is missing (1 and 3 held) and so is a wanted id. Two
// complete pulls from b that do not bring them give them up with b only:
// c is still asked, since b lacking them says nothing of c. (Before, any two
// peers' pulls gave them up for every peer: a joiner and the member it
// joined through, both missing a membership op, struck it out for each
// other and then never asked a third member that held it; a 20-node bench
// formation stalled on that for over 50 s.)
func TestGiveUpIsPerPeer(t *testing.T) {
	var g Group
	st := heldSeqs{seqs: []uint64{1, 3}}
	r := store.AuthorRange{Author: []byte("author"), Have: 1, Max: 3}
	id := store.MessageID{7}
	b, c := peer.ID("b"), peer.ID("c")
	gaps := 0
	count := func(err error) {
		if errors.Is(err, ErrSeqGap) {
			gaps++
		}
	}
	missing := func(store.MessageID) bool { return true }
	pull := func(p peer.ID) {
		g.afterPull(st, p, []store.AuthorRange{r}, []store.AuthorRange{r}, g.wanted(p, []store.MessageID{id}), missing, count)
	}

	pull(b)
	if got := g.haveFor(st, b, r); got != 1 {
		t.Fatalf("one pull gave the hole up: have %d", got)
	}
	pull(b)
	if got := g.haveFor(st, b, r); got != 3 {
		t.Fatalf("b: have %d after two pulls, want 3 (carried past the hole)", got)
	}
	if got := g.wanted(b, []store.MessageID{id}); len(got) != 0 {
		t.Fatalf("b still asked for the id: %v", got)
	}
	if got := g.haveFor(st, c, r); got != 1 {
		t.Fatalf("c: have %d, want 1 (c was never asked)", got)
	}
	if got := g.wanted(c, []store.MessageID{id}); len(got) != 1 {
		t.Fatalf("c not asked for the id: %v", got)
	}
	if gaps != 1 {
		t.Fatalf("seq-gap counted %d times, want 1", gaps)
	}

	pull(c)
	pull(c)
	if got := g.haveFor(st, c, r); got != 3 {
		t.Fatalf("c: have %d after two pulls, want 3", got)
	}
	if gaps != 1 {
		t.Fatalf("seq-gap counted %d times for one seq, want 1", gaps)
	}
}

// A peer's give-ups are asked again after firstRetry, then after twice
// that if they expire unfilled: b may have got the message since (the
// member a joiner joined through, catching up from a third member).
func TestGiveUpExpires(t *testing.T) {
	var g Group
	st := heldSeqs{seqs: []uint64{1, 3}}
	r := store.AuthorRange{Author: []byte("author"), Have: 1, Max: 3}
	id := store.MessageID{1}
	b := peer.ID("b")
	missing := func(store.MessageID) bool { return true }
	giveUp := func() {
		for range holeStrikes {
			g.afterPull(st, b, []store.AuthorRange{r}, []store.AuthorRange{r}, g.wanted(b, []store.MessageID{id}), missing, func(error) {})
		}
		if got := g.wanted(b, []store.MessageID{id}); len(got) != 0 {
			t.Fatalf("given-up id wanted at once: %v", got)
		}
		if got := g.haveFor(st, b, r); got != 3 {
			t.Fatalf("given-up seq asked at once: have %d", got)
		}
	}
	age := func(d time.Duration) {
		g.guard.mu.Lock()
		g.guard.peers[b].since = time.Now().Add(-d)
		g.guard.mu.Unlock()
	}

	giveUp()
	age(firstRetry + time.Second)
	if got := g.wanted(b, []store.MessageID{id}); len(got) != 1 {
		t.Fatalf("given-up id not wanted again after %v: %v", firstRetry, got)
	}
	if got := g.haveFor(st, b, r); got != 1 {
		t.Fatalf("given-up seq not asked again after %v: have %d", firstRetry, got)
	}
	if g.guard.nSkip != 0 || g.guard.nGaveUp != 0 {
		t.Fatalf("counters not released: %d seqs, %d ids", g.guard.nSkip, g.guard.nGaveUp)
	}

	// The second round lasts twice as long.
	giveUp()
	age(firstRetry + time.Second)
	if got := g.haveFor(st, b, r); got != 3 {
		t.Fatalf("second round expired after %v already", firstRetry)
	}
	age(2*firstRetry + time.Second)
	if got := g.haveFor(st, b, r); got != 1 {
		t.Fatalf("second round not over after %v: have %d", 2*firstRetry, got)
	}

	// A clean pull from b (nothing missing any more) ends its record, and
	// with it the backoff.
	clean := store.AuthorRange{Author: r.Author, Have: 3, Max: 3}
	g.afterPull(st, b, []store.AuthorRange{r}, []store.AuthorRange{clean}, nil, missing, func(error) {})
	if _, ok := g.guard.peers[b]; ok {
		t.Fatal("a clean pull left b's record")
	}
}
