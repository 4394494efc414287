package node

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/parley-chat/parley/store"
)

// Reactions put and taken back, and edits, by two members: the message
// read through the decoded-action cache equals the one read with the
// cache emptied, after every action.
func TestRichActsCacheMatchesStore(t *testing.T) {
	ctx := context.Background()
	_, nodes := mockNodes(t, 2, WithSyncInterval(0))
	a, b := nodes[0], nodes[1]
	g := formGroup(t, "Rich", a, b)
	m, err := a.Send(ctx, g, "hello")
	if err != nil {
		t.Fatal(err)
	}
	gr, err := a.group(g)
	if err != nil {
		t.Fatal(err)
	}
	id := store.MessageID(pollBytes(t, m.ID))
	waitFor(t, "b holds the message", func() bool { _, err := b.Message(g, m.ID); return err == nil })
	held := func() uint64 {
		gi, err := a.Group(g)
		if err != nil {
			t.Fatal(err)
		}
		return gi.Messages
	}
	rng := rand.New(rand.NewPCG(7, 9))
	emoji := []string{"👍", "🎉", "❤"}
	for i := range 30 {
		n, before := nodes[rng.IntN(2)], held()
		if i%7 == 6 {
			err = a.Edit(ctx, g, m.ID, "hello again")
		} else {
			err = n.React(ctx, g, m.ID, emoji[rng.IntN(len(emoji))], rng.IntN(3) == 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a holds the action", func() bool { return held() > before })
		cached, err := a.Local.message(gr.rec.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		a.Local.pollActs.rich.mu.Lock()
		a.Local.pollActs.rich.m = nil
		a.Local.pollActs.rich.mu.Unlock()
		fresh, err := a.Local.message(gr.rec.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cached, fresh) {
			t.Fatalf("step %d: cached %+v\nfresh %+v", i, cached, fresh)
		}
	}
}
