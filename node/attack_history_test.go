package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/internal/syncproto"
)

// History from join: the responder used to trust the requester's since_ms,
// so a modified client asking since_ms=0 (or naming old ids as wanted
// parents) got the group's whole past. The responder now serves a
// history-from-join group from the requester's join as it knows it.
func TestAttackHistoryFromJoin(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "", attackOpts()...)
	b := newTestNode(t, "bob", "", attackOpts()...)
	gi, err := a.CreateGroup(ctx, "Private past", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"old one", "old two"} {
		if _, err := a.Send(ctx, gi.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	last := a.cfg.now().UnixMilli()
	waitFor(t, "the clock to pass the old messages", func() bool { return time.Now().UnixMilli() > last })
	code, err := a.Invite(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	ga, _ := a.group(gi.ID)
	gb, _ := b.group(gi.ID)
	waitFor(t, "a to hold b's join", func() bool {
		if ms, err := a.MemberList(gi.ID); err == nil && len(ms) == 2 {
			return true
		}
		a.sync.Request(b.ID(), ga.sync)
		return false
	})
	if _, err := a.Send(ctx, gi.ID, "new"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to get the new message", func() bool {
		if slices.Contains(texts(t, b, gi.ID), "new") {
			return true
		}
		b.sync.Request(a.ID(), gb.sync)
		return false
	})

	// The modified client: since_ms 0, and every missing parent wanted.
	modified := &syncproto.Group{ID: gb.sync.ID, Keys: gb.sync.Keys, Peers: gb.sync.Peers, SinceMs: 0}
	for range 3 {
		if _, err := b.sync.Pull(ctx, a.ID(), modified); err != nil {
			t.Fatal(err)
		}
	}
	if got := drop(a, syncproto.ErrBeforeJoin); got != 3 {
		t.Fatalf("history-before-join drops at a: %d, want 3 (one per pull)", got)
	}
	if got := texts(t, b, gi.ID); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("b holds %q; a history-from-join member must get nothing older than its join", got)
	}
	// Nothing from before b's admission is served, not even the group's
	// earlier membership ops: b holds the op that admitted it, its own
	// join and the new text (b got the log itself in the join reply).
	h, err := b.History(gi.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h {
		got = append(got, m.Kind+":"+m.Text)
	}
	// (b's join and a's "new" may be concurrent: their order is the ids'.)
	slices.Sort(got)
	if want := []string{"join:bob", "membership:admitted bob with an invite", "text:new"}; !slices.Equal(got, want) {
		t.Fatalf("b holds %q, want %q", got, want)
	}
}
