package cli

// Polls in the line chat (chatcmd.PollFront): polls print with a number
// (/vote N CHOICE) and reprint their tally when it changes.

import (
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.PollFront = (*lineFront)(nil)

const lineBarWidth = 12

func (f *lineFront) CreatePoll(q string, opts []string, multi, anon bool) error {
	if f.c.current == "" {
		return errNoGroup
	}
	_, err := f.c.n.CreatePoll(f.ctx, f.c.current, q, opts, multi, anon)
	return err // the poll prints as its message event arrives
}

func (f *lineFront) Vote(poll string, choices []int) error {
	if f.c.current == "" {
		return errNoGroup
	}
	id, err := f.c.polls.Resolve(poll)
	if err != nil {
		return err
	}
	return f.c.n.Vote(f.ctx, f.c.current, id, choices)
}

func (f *lineFront) ClosePoll(poll string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	id, err := f.c.polls.Resolve(poll)
	if err != nil {
		return err
	}
	return memberHint(f.c.n.ClosePoll(f.ctx, f.c.current, id), f.c.current)
}

// pollEvent prints poll messages and tally updates; it reports whether the
// event was handled (votes and closes print nothing: the update shows them).
func (c *chatUI) pollEvent(ev node.Event) bool {
	m := ev.Message
	if m == nil || (ev.Type != node.EventMessage && ev.Type != node.EventUpdate) {
		return false
	}
	switch {
	case m.Kind == "vote" || m.Kind == "poll_close":
		return ev.Type == node.EventMessage
	case m.Poll == nil:
		return false
	}
	if ev.Backfill && c.bulkSync[ev.Group] {
		return true
	}
	num := c.polls.Number(m.Poll.ID)
	if ev.Type == node.EventMessage {
		c.printf("%s\n", formatLine(*m, "15:04", c.groupName(ev.Group)))
	} else {
		c.printf("(%s) poll #%d updated:\n", termtext.Sanitize(termtext.OneLine(c.groupName(ev.Group))), num)
	}
	for _, l := range chatcmd.PollLines(*m.Poll, num, lineBarWidth) {
		c.printf("  %s\n", termtext.Sanitize(l))
	}
	if ev.Type == node.EventMessage && !m.Poll.Closed {
		c.printf("  (/vote %d CHOICE... to vote)\n", num)
	}
	return true
}
