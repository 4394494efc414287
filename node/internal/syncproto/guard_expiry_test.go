package syncproto

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/store"
)

// A wanted id given up is asked for again once retryGivenUp has passed: a
// peer met later may hold it.
func TestGiveUpExpires(t *testing.T) {
	var g Group
	id := store.MessageID{1}
	g.guard.gaveUp = map[store.MessageID]bool{id: true}
	g.guard.skipped = map[string]map[uint64]bool{"author": {3: true}}
	g.guard.nSkip = 1
	g.guard.noteGiveUpLocked(time.Now())
	if got := g.wanted([]store.MessageID{id}); len(got) != 0 {
		t.Fatalf("given-up id wanted at once: %v", got)
	}
	g.guard.since = time.Now().Add(-retryGivenUp - time.Second)
	if got := g.wanted([]store.MessageID{id}); len(got) != 1 {
		t.Fatalf("given-up id not wanted again after %v: %v", retryGivenUp, got)
	}
	if g.guard.skipped != nil || g.guard.nSkip != 0 {
		t.Fatal("skipped seqs not forgotten with the ids")
	}
}
