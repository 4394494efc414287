package tui

// What people need to see: unread and mention counts that survive a
// restart (the node keeps the read position; opening a group marks it
// read), the conversation last open reopened, muted groups shown quietly,
// the delivery state of own messages and a notice of messages known to be
// missing.

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/parley-chat/parley/node"
)

// markReadEvery bounds how often a busy open group is marked read.
const markReadEvery = time.Second

// maxDeliveryAsk is how many own messages one delivery refresh asks about.
const maxDeliveryAsk = 200

type (
	deliveryMsg struct {
		group string
		ds    map[string]node.Delivery
	}
	markedMsg struct{ info node.GroupInfo }
)

// Update handles one message, then marks the open group read if needed.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case deliveryMsg:
		m.onDelivery(msg)
		return m, nil
	case markedMsg:
		if g := m.groupByID(msg.info.ID); g != nil {
			g.info = msg.info
		}
		return m, nil
	}
	mdl, cmd := m.update(msg)
	extra := m.markRead()
	if _, ok := msg.(tickMsg); ok {
		extra = tea.Batch(extra, m.refreshDelivery(""))
	}
	return mdl, tea.Batch(cmd, extra)
}

// openLast makes the conversation last open current (at start).
func (m *Model) openLast() {
	id := m.be.LastOpen()
	for i, g := range m.groups {
		if g.info.ID == id {
			m.cur = i
		}
	}
}

// newGroupCounts starts a group's counts from what the node kept.
func newGroupCounts(g *groupView) {
	g.unread, g.mentions = g.info.Unread, g.info.Mentions
}

// countUnread counts msg, which arrived in a group not being read.
func countUnread(g *groupView, msg node.Message) {
	g.unread++
	if msg.MentionsMe {
		g.mentions++
	}
}

// markRead tells the node the open group is read, when it has something
// new and the view is at the bottom.
func (m *Model) markRead() tea.Cmd {
	g := m.current()
	if g == nil || !g.loaded || g.scroll > 0 || m.quitting {
		return nil
	}
	g.unread, g.mentions = 0, 0
	if m.marked == g.info.ID && (g.info.Last == nil || g.info.Last.ID == m.markedLast) {
		return nil
	}
	if m.marked == g.info.ID && time.Since(m.markedAt) < markReadEvery {
		return nil // the next tick or message marks it
	}
	m.marked, m.markedAt = g.info.ID, time.Now()
	if g.info.Last != nil {
		m.markedLast = g.info.Last.ID
	}
	be, id := m.be, g.info.ID
	return func() tea.Msg {
		if err := be.MarkRead(id); err != nil {
			return nil
		}
		gi, err := be.Group(id)
		if err != nil {
			return nil
		}
		return markedMsg{info: gi}
	}
}

// refreshDelivery asks the node for the delivery state of own messages in
// the open group (or group, when set and open) that are not yet stored by
// every member.
func (m *Model) refreshDelivery(group string) tea.Cmd {
	g := m.current()
	if g == nil || (group != "" && group != g.info.ID) {
		return nil
	}
	var ids []string
	for i := len(g.entries) - 1; i >= 0 && len(ids) < maxDeliveryAsk; i-- {
		e := g.entries[i]
		if e.own && e.pid == 0 && e.msg.ID != "" && (e.msg.Delivery == nil || e.msg.Delivery.State != node.DeliveryStored ||
			(e.msg.Delivery.ReadBy < e.msg.Delivery.Members-1)) {
			ids = append(ids, e.msg.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	be, id := m.be, g.info.ID
	return func() tea.Msg {
		ds, err := be.Delivery(id, ids)
		if err != nil {
			return nil
		}
		return deliveryMsg{group: id, ds: ds}
	}
}

func (m *Model) onDelivery(d deliveryMsg) {
	g := m.groupByID(d.group)
	if g == nil {
		return
	}
	for _, e := range g.entries {
		if nd, ok := d.ds[e.msg.ID]; ok && (e.msg.Delivery == nil || *e.msg.Delivery != nd) {
			e.msg.Delivery = &nd
			e.cached = nil
		}
	}
}

// deliveryMark is the mark after an own stored message: ✓ sent, ✓✓ stored
// by every member, else ✓ N/M; and "read by N" with read receipts.
func deliveryMark(e *entry) string {
	d := e.msg.Delivery
	if d == nil || d.Members <= 1 {
		return " ✓"
	}
	s := fmt.Sprintf(" ✓ %d/%d", d.StoredBy, d.Members)
	if d.State == node.DeliveryStored {
		s = " ✓✓"
	}
	if d.ReadBy > 0 {
		s += fmt.Sprintf(" read by %d", d.ReadBy)
	}
	return s
}

// groupBadge is a group's unread badge in the list and its style: "@"
// when a message mentions me, dim when the group is muted.
func groupBadge(g *groupView) (string, lipgloss.Style) {
	st := unreadStyle
	if g.info.Muted {
		st = dimStyle
	}
	if g.unread <= 0 {
		if g.info.Muted {
			return " ~", st
		}
		return "", st
	}
	n := fmt.Sprint(g.unread)
	if g.unread > 999 {
		n = "999+"
	}
	if g.mentions > 0 {
		n = "@" + n
	}
	return " " + n, st
}

// missingText is the notice for messages known to be missing.
func missingText(ms []node.MissingInfo) string {
	var parts []string
	for _, x := range ms {
		what := plural(x.Count, "message")
		switch {
		case x.Name != "":
			what += " from " + x.Name
		case x.Author != "":
			what += " from " + shortID(x.Author)
		}
		parts = append(parts, what)
	}
	return "⚠ " + strings.Join(parts, ", ") + " not yet received"
}
