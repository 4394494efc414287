package tui

// Search in the full-screen chat (chatcmd.SearchFront): /search lists the
// results in a window, /open N switches to the result's group, pages its
// history in from the newest message back to the result and scrolls there.

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.SearchFront = (*front)(nil)

// maxJumpPages bounds how far back /open pages to reach a result.
const maxJumpPages = 100

type searchMsg struct {
	query   string
	results []node.SearchResult
	err     error
}

// jumpMsg carries the pages /open read: from the group's newest loaded
// point (before; "" is the newest message) back to the target.
type jumpMsg struct {
	group, target, before string
	msgs                  []node.Message // oldest first
	found                 bool
	err                   error
}

func (f *front) Search(query string) error {
	be := f.m.be
	f.m.busy = "searching…"
	f.cmd = func() tea.Msg {
		res, err := be.Search(query, node.SearchOptions{})
		return searchMsg{query: query, results: res, err: err}
	}
	return nil
}

func (f *front) OpenResult(n int) error {
	m := f.m
	if n > len(m.found) {
		return fmt.Errorf("%w: no result %d (the last /search found %d)", node.ErrInvalidInput, n, len(m.found))
	}
	r := m.found[n-1]
	g := m.groupByID(r.GroupID)
	if g == nil {
		return fmt.Errorf("%w: %s", node.ErrGroupNotFound, r.GroupName)
	}
	m.modal = nil
	m.switchTo(g.info.ID)
	if g.ids[r.Message.ID] {
		m.scrollTo(g, r.Message.ID)
		return nil
	}
	before := ""
	if g.loaded {
		before = g.oldestCursor()
	}
	be, page, group, target := m.be, m.opts.PageSize, g.info.ID, r.Message.ID
	g.loading = true
	m.busy = "opening the result…"
	f.cmd = func() tea.Msg {
		jm := jumpMsg{group: group, target: target, before: before}
		var pages [][]node.Message
		cur := before
		for range maxJumpPages {
			ms, err := be.History(group, cur, page)
			if err != nil {
				jm.err = err
				break
			}
			pages = append([][]node.Message{ms}, pages...)
			for _, x := range ms {
				jm.found = jm.found || x.ID == target
			}
			if jm.found || len(ms) < page {
				break
			}
			cur = ms[0].Cursor
		}
		for _, p := range pages {
			jm.msgs = append(jm.msgs, p...)
		}
		return jm
	}
	return nil
}

func (m *Model) onSearch(msg tea.Msg) tea.Cmd {
	m.busy = ""
	switch msg := msg.(type) {
	case searchMsg:
		if msg.err != nil {
			m.setErr(msg.err)
			return nil
		}
		m.found = msg.results
		lines := make([]string, 0, len(msg.results)+2)
		for i, r := range msg.results {
			lines = append(lines, fmt.Sprintf("%2d. (%s) %s: %s", i+1, termtext.OneLine(r.GroupName),
				termtext.OneLine(displayName(r.Message)), termtext.OneLine(r.Message.Text)))
		}
		if len(lines) == 0 {
			lines = append(lines, "no messages found")
		} else {
			lines = append(lines, "", "/open N shows result N in its group")
		}
		m.modal = &modal{kind: modalText, title: fmt.Sprintf("Search: %s (%d)", termtext.OneLine(msg.query), len(msg.results)), lines: lines}
	case jumpMsg:
		g := m.groupByID(msg.group)
		if g == nil {
			return nil
		}
		g.loading = false
		if msg.err != nil {
			m.setErr(msg.err)
			return nil
		}
		fresh := make([]*entry, 0, len(msg.msgs))
		for _, x := range msg.msgs {
			if !g.ids[x.ID] {
				g.ids[x.ID] = true
				fresh = append(fresh, &entry{msg: x, own: x.Author == m.self})
			}
		}
		if msg.before == "" && !g.loaded {
			g.loaded = true
			for _, e := range fresh {
				g.insert(e)
			}
		} else {
			g.entries = append(fresh, g.entries...)
		}
		if !msg.found {
			m.setErr(fmt.Errorf("%w: the result is no longer in the history", node.ErrInvalidInput))
			return nil
		}
		m.scrollTo(g, msg.target)
	}
	return nil
}

// scrollTo scrolls g so that message id sits a few lines above the bottom.
func (m *Model) scrollTo(g *groupView, id string) {
	lines := 0
	for i := len(g.entries) - 1; i >= 0; i-- {
		if g.entries[i].msg.ID == id {
			g.scroll = max(0, lines-3)
			m.setNotice("result shown; esc returns to the newest message")
			return
		}
		lines += len(m.entryLines(g, i))
	}
}

func displayName(msg node.Message) string {
	if msg.AuthorName != "" {
		return msg.AuthorName
	}
	return shortID(msg.Author)
}
