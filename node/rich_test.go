package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// visibleState is a node's history as JSON, minus what depends on the
// reader (Mine, MentionsMe) and the per-reader cursor-free fields.
func visibleState(t *testing.T, n *testNode, group string) string {
	t.Helper()
	h, err := n.History(group, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		h[i].MentionsMe, h[i].TimeDoubtful = false, false
		h[i].Delivery = nil // the reader's own messages only
		for j := range h[i].Reactions {
			h[i].Reactions[j].Mine = false
		}
	}
	b, _ := json.Marshal(h)
	return string(b)
}

func msgByID(t *testing.T, n *testNode, group, id string) Message {
	t.Helper()
	h, err := n.History(group, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h {
		if m.ID == id {
			return m
		}
	}
	return Message{}
}

func waitHeld(t *testing.T, group, id string, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, n.cfg.displayName+" to hold "+id[:8], func() bool { return msgByID(t, n, group, id).ID == id })
	}
}

// Four nodes get the same actions in different orders (two sides of a
// partition, then the heal; a late joiner gets the tombstone without the
// original) and end in the same visible state.
func TestRichConvergesAcrossPartition(t *testing.T) {
	if raceEnabled {
		t.Skip("mocknet's teardown lets a GossipSub stream survive a cut under -race (see TestPartitionHeal); runs in the plain pass")
	}
	ctx := context.Background()
	mn, ns := mockNodes(t, 4)
	a, b, c, d := ns[0], ns[1], ns[2], ns[3]
	group := formGroup(t, "rich", a, b, c, d)
	makeAdmin(t, a, b, group)
	t1, err := a.Send(ctx, group, "hello @n2 and @nobody")
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := a.Send(ctx, group, "second")
	t3, _ := d.Send(ctx, group, "third by d")
	waitHeld(t, group, t3.ID, a, b, c, d)
	waitHeld(t, group, t2.ID, a, b, c, d)
	if m := msgByID(t, c, group, t1.ID); !m.MentionsMe || len(m.Mentions) != 1 {
		t.Fatalf("c (n2) not mentioned: %+v", m)
	}
	partition(t, mn, []*testNode{a, b}, []*testNode{c, d})

	// Left side.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.React(ctx, group, t1.ID[:8], "👍", false))
	must(a.Edit(ctx, group, t1.ID, "hello v2"))
	must(b.React(ctx, group, t2.ID, "👍", false))
	must(b.React(ctx, group, t2.ID, "👍", true))
	must(a.React(ctx, group, t2.ID, "❤", false))
	must(b.Delete(ctx, group, t3.ID)) // an admin deletes d's message...
	reply, err := b.SendWith(ctx, group, "a reply", SendOptions{ReplyTo: t1.ID})
	must(err)
	t4, _ := a.Send(ctx, group, "gone soon")
	must(a.Delete(ctx, group, t4.ID))
	// Right side.
	must(c.React(ctx, group, t1.ID, "👍", false))
	// ...while d edits it: the delete wins. (If the cut leaks the delete to
	// d first, d's edit is refused as of a deleted message: same outcome.)
	mustOrDeleted := func(err error) {
		t.Helper()
		if err != nil && !errors.Is(err, ErrDeleted) {
			t.Fatal(err)
		}
	}
	mustOrDeleted(d.Edit(ctx, group, t3.ID, "third edited"))
	must(a.Edit(ctx, group, t1.ID, "hello v3")) // a's second edit (left, later clock)
	mustOrDeleted(d.Edit(ctx, group, t3.ID, "third again"))
	must(c.React(ctx, group, t2.ID, "😀", false))
	if err := c.Edit(ctx, group, t1.ID, "not mine"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("edit of another's message: %v", err)
	}
	if err := c.Delete(ctx, group, t1.ID); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("non-admin delete: %v", err)
	}
	heal(t, mn, []*testNode{a, b}, []*testNode{c, d})
	e := addMockNode(t, mn, "late", nil)
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if _, err := mn.ConnectPeers(e.ID(), n.ID()); err != nil {
			t.Fatal(err)
		}
	}
	joinVia(t, a, e, group)
	all := []*testNode{a, b, c, d, e}
	defer func() {
		if t.Failed() {
			for _, n := range all {
				t.Logf("%s: %s", n.cfg.displayName, visibleState(t, n, group))
			}
		}
	}()
	waitFor(t, "the same visible state everywhere", func() bool {
		s := visibleState(t, a, group)
		for _, n := range all[1:] {
			if visibleState(t, n, group) != s {
				return false
			}
		}
		return msgByID(t, a, group, reply.ID).ID != "" && msgByID(t, a, group, t4.ID).Deleted &&
			len(msgByID(t, a, group, t1.ID).Reactions) == 1 && msgByID(t, a, group, t1.ID).Reactions[0].Count == 2 &&
			msgByID(t, a, group, t1.ID).Text == "hello v3"
	})
	m1 := msgByID(t, e, group, t1.ID)
	if !m1.Edited || len(m1.Edits) != 2 || m1.Edits[0].Text != "hello @n2 and @nobody" || m1.Edits[1].Text != "hello v2" {
		t.Fatalf("t1 edits: %+v", m1)
	}
	m2 := msgByID(t, e, group, t2.ID)
	if len(m2.Reactions) != 2 || m2.Reactions[0].Emoji+m2.Reactions[1].Emoji != "😀❤" && m2.Reactions[0].Emoji+m2.Reactions[1].Emoji != "❤😀" {
		t.Fatalf("t2 reactions: %+v", m2.Reactions)
	}
	m3 := msgByID(t, e, group, t3.ID)
	if !m3.Deleted || m3.Text != "" || m3.Edited || m3.Author != d.ID().String() {
		t.Fatalf("t3 after edit racing delete: %+v", m3)
	}
	r := msgByID(t, d, group, reply.ID)
	if r.ReplyTo != t1.ID || r.Quote == nil || r.Quote.Excerpt != "hello v3" {
		t.Fatalf("reply: %+v %+v", r, r.Quote)
	}
	// A reaction to a deleted message is ignored.
	gd, _ := d.group(group)
	if err := d.React(ctx, group, t3.ID, "👍", false); !errors.Is(err, ErrDeleted) {
		t.Fatalf("react to deleted: %v", err)
	}
	_ = gd
	// The late joiner counts the erased messages held: its vector matches.
	for _, n := range []*testNode{e} {
		g, _ := n.group(group)
		ga, _ := a.group(group)
		va, _ := a.st.Vector(ga.rec.ID)
		ve, _ := n.st.Vector(g.rec.ID)
		for _, x := range va {
			for _, y := range ve {
				if bytes.Equal(x.Author, y.Author) && y.Seq < x.Seq {
					t.Fatalf("late joiner's vector behind: %d < %d", y.Seq, x.Seq)
				}
			}
		}
	}
	// History JSON has the fields front ends and checks read.
	raw, _ := json.Marshal(msgByID(t, b, group, t1.ID))
	for _, f := range []string{`"id"`, `"author"`, `"text"`, `"reply_to"`, `"reactions"`, `"edited"`, `"deleted"`} {
		if !bytes.Contains(raw, []byte(f)) {
			t.Fatalf("history JSON lacks %s: %s", f, raw)
		}
	}
}

// A crafted edit of someone else's message is refused by the receiver.
func TestRichRefusesForeignEdit(t *testing.T) {
	ctx := context.Background()
	_, ns := mockNodes(t, 2)
	a, b := ns[0], ns[1]
	group := formGroup(t, "refuse", a, b)
	t1, err := a.Send(ctx, group, "a's words")
	if err != nil {
		t.Fatal(err)
	}
	waitHeld(t, group, t1.ID, b)
	g, _ := b.group(group)
	id, _ := hex.DecodeString(t1.ID)
	for _, body := range []*wirepb.Body{
		{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: id, Text: "b's words"}}},
	} {
		m := craft(t, b, g, "x")
		m.Body = body
		publishRaw(t, b, g, m)
	}
	waitFor(t, "a to refuse b's edit", func() bool { return a.Drops()[ErrNotAllowed.Error()] >= 1 })
	if m := msgByID(t, a, group, t1.ID); m.Text != "a's words" || m.Edited {
		t.Fatalf("foreign edit applied: %+v", m)
	}
}

// A deleted message's body is gone from the store files of every node that
// got the tombstone.
func TestDeleteErasesFromFiles(t *testing.T) {
	ctx := context.Background()
	var ns []*testNode
	for _, name := range []string{"ann", "ben", "cat"} {
		ns = append(ns, newTestNode(t, name, t.TempDir()))
	}
	connect(t, ns[0], ns[1])
	connect(t, ns[0], ns[2])
	connect(t, ns[1], ns[2])
	gi, err := ns[0].CreateGroup(ctx, "erase", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, ns[0], ns[1], gi.ID)
	joinVia(t, ns[0], ns[2], gi.ID)
	secret := "zebra-quartz-unique-7141"
	m, err := ns[1].Send(ctx, gi.ID, secret)
	if err != nil {
		t.Fatal(err)
	}
	edited := "walrus-edit-secret-5521" // an edit's text goes with the message
	if err := ns[1].Edit(ctx, gi.ID, m.ID, edited); err != nil {
		t.Fatal(err)
	}
	keep, _ := ns[1].Send(ctx, gi.ID, "kept-text-9931")
	waitHeld(t, gi.ID, keep.ID, ns...)
	if err := ns[1].Delete(ctx, gi.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		waitFor(t, n.cfg.displayName+" to erase", func() bool { return msgByID(t, n, gi.ID, m.ID).Deleted })
	}
	for _, n := range ns {
		n.stop()
		dir := n.dir
		found := false
		_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s: %s still holds the deleted text", n.cfg.displayName, p)
			}
			if bytes.Contains(b, []byte(edited)) {
				t.Errorf("%s: %s still holds the deleted message's edit", n.cfg.displayName, p)
			}
			found = found || bytes.Contains(b, []byte("kept-text-9931"))
			return nil
		})
		if !found {
			t.Errorf("%s: the kept message is in no file: the check proves nothing", n.cfg.displayName)
		}
	}
}

var _ = envelope.MaxTextLen
var _ store.MessageID

// History lists only displayable messages: limit counts those, and the
// cursors page through them past folded reactions and edits.
func TestHistoryPagesPastFoldedActions(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "solo", "", WithSyncInterval(0))
	gi, err := a.CreateGroup(ctx, "solo", false)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 6 {
		m, err := a.Send(ctx, gi.ID, "m"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
		for j := range 5 { // more hidden messages than a page
			if err := a.React(ctx, gi.ID, m.ID, string(rune('a'+j)), j%2 == 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Edit(ctx, gi.ID, m.ID, "e"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	before := ""
	for {
		h, err := a.History(gi.ID, before, 2)
		if err != nil {
			t.Fatal(err)
		}
		page := []string{}
		for _, m := range h {
			if hiddenKind(m.Kind) {
				t.Fatalf("history lists a %s", m.Kind)
			}
			if m.Kind == "text" {
				page = append(page, m.ID)
				if len(m.Reactions) != 3 || !m.Edited || m.Text[0] != 'e' {
					t.Fatalf("folded state: %+v", m)
				}
			}
		}
		got = append(page, got...)
		if len(h) < 2 {
			break
		}
		before = h[0].Cursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %v, want %v", got, want)
	}
	if _, err := a.Message(gi.ID, want[0][:8]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Message(gi.ID, "0000000000"); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := a.Message(gi.ID, "abc"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("short id: %v", err)
	}
	all, _ := a.History(gi.ID, "", 100)
	if all[0].Kind != "join" {
		t.Fatalf("first message is %s", all[0].Kind)
	}
	if err := a.Delete(ctx, gi.ID, all[0].ID); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("delete of a join: %v", err)
	}
	gl, _ := a.Group(gi.ID)
	if gl.Last == nil || gl.Last.ID != want[5] {
		t.Fatalf("group's last message is not the last text: %+v", gl.Last)
	}
}

// A member offline while a message was edited and then deleted gets no
// hole in its author's seqs: the delete names the erased edit, which the
// member records as erased, so nothing shows as missing and sync stops
// asking. The edit's text reaches it nowhere.
func TestDeletedEditsLeaveNoHole(t *testing.T) {
	ctx := context.Background()
	dirB := t.TempDir()
	a := newTestNode(t, "ann", t.TempDir(), WithReceiptInterval(0))
	defer a.stop()
	b := newTestNode(t, "ben", dirB, WithReceiptInterval(0))
	connect(t, a, b)
	gi, err := a.CreateGroup(ctx, "holes", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	first, _ := a.Send(ctx, gi.ID, "before")
	waitHeld(t, gi.ID, first.ID, b)
	b.stop()

	m, err := a.Send(ctx, gi.ID, "original")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(ctx, gi.ID, m.ID, "otter-edit-secret-3317"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, gi.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	last, _ := a.Send(ctx, gi.ID, "after")

	b = startTestNode(t, "ben", dirB, b.key, WithReceiptInterval(0))
	defer b.stop()
	connect(t, b, a) // the new ben dials: ann may still back off from the stopped one
	waitHeld(t, gi.ID, last.ID, b)
	waitFor(t, "ben to see the delete", func() bool { return msgByID(t, b, gi.ID, m.ID).Deleted })
	if miss := groupInfo(t, b, gi.ID).Missing; len(miss) != 0 {
		t.Errorf("missing after sync: %+v; the erased edit left a hole", miss)
	}
	for _, h := range mustHistory(t, b, gi.ID) {
		if strings.Contains(h.Text, "otter-edit-secret") {
			t.Errorf("the deleted message's edit text reached ben: %+v", h)
		}
	}
}

func mustHistory(t *testing.T, n *testNode, group string) []Message {
	t.Helper()
	h, err := n.History(group, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
