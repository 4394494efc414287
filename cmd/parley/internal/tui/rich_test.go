package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

// Rich messages show their number, quote, edits, deletion, reactions and
// mention mark; an update event refreshes one; the commands take #N.
func TestRichDisplayAndCommands(t *testing.T) {
	f := newFake()
	g := f.addGroup("aa", "Family", 2)
	g.msgs[1].ReplyTo = g.msgs[0].ID
	g.msgs[1].Quote = &node.Quote{ID: g.msgs[0].ID, AuthorName: "me", Excerpt: "message 1"}
	g.msgs[1].Reactions = []node.Reaction{{Emoji: "👍", Count: 2}}
	g.msgs[1].MentionsMe = true
	m := start(t, f, 100, 20)
	v := checkFrame(t, m, 100, 20)
	for _, want := range []string{"#1 me: message 1", "#2 bob: @you [↳ me: message 1] message 2 👍2"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	up := g.msgs[0]
	up.Text, up.Edited = "message one", true
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventUpdate, Group: "aa", Message: &up}}})
	if v := checkFrame(t, m, 100, 20); !strings.Contains(v, "#1 me: message one (edited)") {
		t.Fatalf("update not shown:\n%s", v)
	}
	del := g.msgs[1]
	del.Deleted, del.Text, del.Kind, del.Reactions = true, "", node.KindDeleted, nil
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventUpdate, Group: "aa", Message: &del}}})
	if v := checkFrame(t, m, 100, 20); !strings.Contains(v, "#2 bob: @you (message deleted)") || strings.Contains(v, "message 2") {
		t.Fatalf("deletion not shown:\n%s", v)
	}
	typeLine(t, m, "/react #1 🎉")
	typeLine(t, m, "/unreact 1 🎉")
	typeLine(t, m, "/edit 1 better")
	typeLine(t, m, "/delete 2")
	typeLine(t, m, "/reply 1 sure")
	want := []string{
		"react aa " + g.msgs[0].ID + " 🎉 false",
		"react aa " + g.msgs[0].ID + " 🎉 true",
		"edit aa " + g.msgs[0].ID + " better",
		"delete aa " + g.msgs[1].ID,
		"reply " + g.msgs[0].ID + " sure",
	}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}
