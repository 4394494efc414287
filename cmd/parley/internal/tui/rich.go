package tui

// Replies, reactions, edits and deletes in the full-screen chat
// (chatcmd.RichFront), and how such messages are shown: "#N" numbers that
// the commands take, the quote, "(edited)", "message deleted", reaction
// counts and a mark on messages that mention us.

import (
	"context"
	"fmt"
	"strings"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.RichFront = (*front)(nil)

// number gives e its session number once; the group's entries not
// numbered yet are numbered first, oldest first (rendering runs newest
// first), so numbers grow down the screen as messages arrive.
func (m *Model) number(g *groupView, e *entry) {
	if e.num != 0 || e.msg.ID == "" {
		return
	}
	for _, x := range g.entries {
		if x.num == 0 && x.msg.ID != "" {
			x.num = m.nums.Of(x.msg.ID)
			x.cached = nil
		}
	}
}

// richBody decorates a message's body for the pane.
func richBody(e *entry, body string) string {
	msg := e.msg
	if msg.Deleted {
		body = "(message deleted)"
	}
	var b strings.Builder
	if msg.MentionsMe {
		b.WriteString("@you ")
	}
	if q := msg.Quote; q != nil && !msg.Deleted {
		if q.Deleted {
			b.WriteString("[↳ deleted] ")
		} else {
			name := q.AuthorName
			if name == "" {
				name = shortID(q.Author)
			}
			fmt.Fprintf(&b, "[↳ %s: %s] ", termtext.OneLine(name), clipRunes(termtext.OneLine(q.Excerpt), 40))
		}
	}
	b.WriteString(body)
	if msg.Edited && !msg.Deleted {
		b.WriteString(" (edited)")
	}
	for _, r := range msg.Reactions {
		fmt.Fprintf(&b, " %s%d", termtext.OneLine(r.Emoji), r.Count)
	}
	return b.String()
}

// numTag is " #N" after the time: what /reply, /react... take.
func numTag(e *entry) string {
	if e.num == 0 {
		return ""
	}
	return fmt.Sprintf(" #%d", e.num)
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// onUpdate replaces a shown message by its new state.
func (m *Model) onUpdate(msg node.Message) {
	g := m.groupByID(msg.Group)
	if g == nil {
		return
	}
	for _, e := range g.entries {
		if e.msg.ID == msg.ID {
			e.msg, e.cached = msg, nil
			return
		}
	}
}

// rich runs a rich action on the current group off the update loop.
func (f *front) rich(busy, done string, fn func(ctx context.Context, be backend.Backend, group string) error) error {
	g := f.m.current()
	if g == nil {
		return fmt.Errorf("no group yet: /create NAME or /join CODE")
	}
	group := g.info.ID
	f.async(busy, false, func(ctx context.Context, be backend.Backend) (string, error) {
		return done, fn(ctx, be, group)
	})
	return nil
}

func (f *front) Reply(ref, text string) error {
	id := f.m.nums.Resolve(ref)
	return f.rich("sending…", "reply sent", func(ctx context.Context, be backend.Backend, g string) error {
		_, err := be.SendWith(ctx, g, text, node.SendOptions{ReplyTo: id})
		return err
	})
}

func (f *front) React(ref, emoji string, remove bool) error {
	id := f.m.nums.Resolve(ref)
	done := "reacted " + emoji
	if remove {
		done = "reaction removed"
	}
	return f.rich("reacting…", done, func(ctx context.Context, be backend.Backend, g string) error {
		return be.React(ctx, g, id, emoji, remove)
	})
}

func (f *front) Edit(ref, text string) error {
	id := f.m.nums.Resolve(ref)
	return f.rich("editing…", "edited", func(ctx context.Context, be backend.Backend, g string) error {
		return be.Edit(ctx, g, id, text)
	})
}

func (f *front) Delete(ref string) error {
	id := f.m.nums.Resolve(ref)
	return f.rich("deleting…", "deleted", func(ctx context.Context, be backend.Backend, g string) error {
		return be.Delete(ctx, g, id)
	})
}
