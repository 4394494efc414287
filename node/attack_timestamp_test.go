package node

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/internal/envelope"
)

// Timestamps: a member's message dated year 10000 broke the web chat (the
// API answered 200 with an empty body: no JSON time past 9999). It is
// refused (bad-timestamp); a message 3 days ahead, a clock merely wrong, is
// kept and shown as doubtful, in causal order.
func TestAttackFarFutureTimestamp(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "", attackOpts()...)
	m := newTestNode(t, "mallory", "", attackOpts()...)
	gid := attackGroup(t, false, a, m)
	ga, _ := a.group(gid)
	gm, _ := m.group(gid)

	far := craft(t, m, gm, "year 10000")
	far.TimestampMs = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	fv := publishRaw(t, m, gm, far)
	waitFor(t, "a to refuse the year-10000 message", func() bool { return drop(a, envelope.ErrBadTimestamp) >= 1 })

	// Over sync as well (gossip may have refused it more than once, from
	// more than one path: count the pull's own refusal).
	gossiped := drop(a, envelope.ErrBadTimestamp)
	if _, err := m.st.AppendReceived(ctx, fv.StoreMessage(gm.rec.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := pullNow(t, a, gid, m.ID()); err != nil {
		t.Fatal(err)
	}
	if got := drop(a, envelope.ErrBadTimestamp); got <= gossiped {
		t.Fatalf("bad-timestamp drops %d after the pull, %d before: sync did not refuse it", got, gossiped)
	}
	if holds(t, a, ga.rec.ID, fv.ID) {
		t.Fatal("the year-10000 message was stored")
	}

	// A clock 3 days fast: kept, doubtful. Sent by mallory's real client
	// with its clock moved (the seq after the refused one's, so no hole).
	ahead := craft(t, m, gm, "3 days ahead")
	ahead.Seq = far.Seq
	ahead.TimestampMs = time.Now().Add(72 * time.Hour).UnixMilli()
	av := publishRaw(t, m, gm, ahead)
	waitFor(t, "a to store the message 3 days ahead", func() bool { return holds(t, a, ga.rec.ID, av.ID) })
	if _, err := a.Send(ctx, gid, "after it"); err != nil {
		t.Fatal(err)
	}
	h, err := a.History(gid, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, msg := range h {
		if msg.Kind != "text" {
			continue
		}
		got = append(got, msg.Text)
		if want := msg.Text == "3 days ahead"; msg.TimeDoubtful != want {
			t.Fatalf("%q: TimeDoubtful %v, want %v", msg.Text, msg.TimeDoubtful, want)
		}
	}
	// Causal order: our reply sorts after it although its time is later.
	if !slices.Equal(got, []string{"3 days ahead", "after it"}) {
		t.Fatalf("history %q", got)
	}
	if _, err := json.Marshal(h); err != nil {
		t.Fatalf("history does not encode: %v", err)
	}
}
