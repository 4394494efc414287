package tui

// Polls in the full-screen chat (chatcmd.PollFront): a poll shows as its
// question with a bar and count per option, numbered for /vote N; its
// entry is redrawn when an update event brings the new tally.

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.PollFront = (*front)(nil)

const pollBarWidth = 16

// pollGroup is the current group's id, or an error.
func (f *front) pollGroup() (string, error) {
	g := f.m.current()
	if g == nil {
		return "", fmt.Errorf("no current group: /create NAME or /join CODE first")
	}
	return g.info.ID, nil
}

func (f *front) CreatePoll(q string, opts []string, multi, anon bool) error {
	gid, err := f.pollGroup()
	if err != nil {
		return err
	}
	f.async("opening the poll…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		m, err := be.CreatePoll(ctx, gid, q, opts, multi, anon)
		return "poll opened: " + termtext.OneLine(m.Text), err
	})
	return nil
}

func (f *front) Vote(poll string, choices []int) error {
	gid, err := f.pollGroup()
	if err != nil {
		return err
	}
	id, err := f.m.polls.Resolve(poll)
	if err != nil {
		return err
	}
	f.async("voting…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		if len(choices) == 0 {
			return "vote withdrawn", be.Vote(ctx, gid, id, nil)
		}
		return "voted", be.Vote(ctx, gid, id, choices)
	})
	return nil
}

func (f *front) ClosePoll(poll string) error {
	gid, err := f.pollGroup()
	if err != nil {
		return err
	}
	id, err := f.m.polls.Resolve(poll)
	if err != nil {
		return err
	}
	f.async("closing the poll…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		return "poll closed", be.ClosePoll(ctx, gid, id)
	})
	return nil
}

// onPollEvent applies a tally update to the poll's entry; it reports
// whether the event was handled (updates, and the vote and close messages
// themselves, which the updated tally shows).
func (m *Model) onPollEvent(ev node.Event) bool {
	msg := ev.Message
	if msg == nil {
		return false
	}
	switch {
	case ev.Type == node.EventMessage && (msg.Kind == "vote" || msg.Kind == "poll_close"):
		return true
	case ev.Type != node.EventUpdate || msg.Poll == nil:
		return false
	}
	g := m.groupByID(msg.Group)
	if g == nil {
		return true
	}
	for _, e := range g.entries {
		if e.msg.ID == msg.ID {
			e.msg, e.cached = *msg, nil
		}
	}
	return true
}

// pollLines renders a poll entry (nil for other kinds): header line with
// time, author and number, then one line per option.
func (m *Model) pollLines(e *entry, w int) []string {
	msg := e.msg
	switch msg.Kind {
	case "vote", "poll_close":
		what := "a vote"
		if msg.Kind == "poll_close" {
			what = "a poll was closed"
		}
		return []string{dimStyle.Render(ansi.Truncate(msg.Time.Local().Format("15:04")+" · "+what, w, "…"))}
	case "poll":
	default:
		return nil
	}
	tm := msg.Time.Local().Format("15:04")
	if msg.Poll == nil {
		return []string{ansi.Truncate(tm+" "+termtext.OneLine(authorName(msg))+" asks: "+termtext.OneLine(msg.Text), w, "…")}
	}
	num := m.polls.Number(msg.Poll.ID)
	pl := chatcmd.PollLines(*msg.Poll, num, pollBarWidth)
	head := dimStyle.Render(tm) + " " + nameStyle(msg.Author).Render(termtext.OneLine(authorName(msg))) + " " + termtext.Sanitize(pl[0])
	out := []string{ansi.Truncate(head, w, "…")}
	for _, l := range pl[1:] {
		out = append(out, ansi.Truncate(strings.Repeat(" ", indent)+termtext.Sanitize(l), w, "…"))
	}
	if !msg.Poll.Closed {
		out = append(out, dimStyle.Render(ansi.Truncate(strings.Repeat(" ", indent)+fmt.Sprintf("/vote %d CHOICE…", num), w, "…")))
	}
	return out
}
