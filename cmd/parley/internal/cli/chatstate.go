package cli

import (
	"fmt"
	"strings"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// What the line chat shows of the state the full-screen chat shows in its
// panes: unread counts and mentions at start, and a notice while messages
// of the current group are known to be missing.

// unreadLines lists groups with unread messages, mentions first.
func unreadLines(gs []node.GroupInfo) []string {
	var out []string
	for _, g := range gs {
		if g.Unread == 0 {
			continue
		}
		s := fmt.Sprintf("  %s: %d unread", termtext.OneLine(g.Name), g.Unread)
		if g.Mentions > 0 {
			s += fmt.Sprintf(" (%d @you)", g.Mentions)
		}
		if g.Muted {
			s += ", muted"
		}
		out = append(out, s)
	}
	return out
}

// missingText is "3 messages from Ana not yet received" for each author
// (one line), or "" when nothing is known missing.
func missingText(ms []node.MissingInfo) string {
	var parts []string
	for _, m := range ms {
		who := termtext.OneLine(m.Name)
		if who == "" && len(m.Author) >= 8 {
			who = m.Author[len(m.Author)-8:]
		}
		noun := "messages"
		if m.Count == 1 {
			noun = "message"
		}
		if who == "" {
			parts = append(parts, fmt.Sprintf("%d %s", m.Count, noun))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s from %s", m.Count, noun, who))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " not yet received"
}

// showUnread prints the unread summary (at start).
func (c *chatUI) showUnread() {
	gs, err := c.n.Groups()
	if err != nil {
		return
	}
	if lines := unreadLines(gs); len(lines) > 0 {
		c.printf("unread:\n%s\n", strings.Join(lines, "\n"))
	}
}

// checkMissing prints the current group's missing notice when it changes
// (and once when it clears).
func (c *chatUI) checkMissing() {
	if c.current == "" {
		return
	}
	ms, err := c.n.Missing(c.current)
	if err != nil {
		return
	}
	text := missingText(ms)
	if text == c.lastMissing {
		return
	}
	if text == "" {
		c.printf("* all known messages received\n")
	} else {
		c.printf("* %s\n", text)
	}
	c.lastMissing = text
}
