package cli

// Replies, reactions, edits and deletes in the line chat
// (chatcmd.RichFront): each shown message carries "#N", which the
// commands take (or an id prefix).

import (
	"fmt"

	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.RichFront = (*lineFront)(nil)

// numbered is formatLine with the message's "#N" in front.
func (c *chatUI) numbered(m node.Message, layout, group string) string {
	line := fmt.Sprintf("#%d %s", c.nums.Of(m.ID), formatLine(m, layout, group))
	if m.MentionsMe {
		line += "  (@you)"
	}
	return line
}

// updated prints a message whose reactions, text or deletion changed.
func (c *chatUI) updated(ev node.Event) {
	if ev.Message == nil || (ev.Backfill && c.bulkSync[ev.Group]) {
		return
	}
	c.printf("%s\n", c.numbered(*ev.Message, "15:04", c.groupName(ev.Group)))
}

func (f *lineFront) Reply(ref, text string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	_, err := f.c.n.SendWith(f.ctx, f.c.current, text, node.SendOptions{ReplyTo: f.c.nums.Resolve(ref)})
	return err
}

func (f *lineFront) React(ref, emoji string, remove bool) error {
	if f.c.current == "" {
		return errNoGroup
	}
	return f.c.n.React(f.ctx, f.c.current, f.c.nums.Resolve(ref), emoji, remove)
}

func (f *lineFront) Edit(ref, text string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	return f.c.n.Edit(f.ctx, f.c.current, f.c.nums.Resolve(ref), text)
}

func (f *lineFront) Delete(ref string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	if err := f.c.n.Delete(f.ctx, f.c.current, f.c.nums.Resolve(ref)); err != nil {
		return err
	}
	f.c.printf("deleted\n")
	return nil
}
