package tui

import (
	"strconv"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

// Search on the fake: every message whose text contains query, newest first.
func (f *fake) Search(query string, o node.SearchOptions) ([]node.SearchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []node.SearchResult
	for _, g := range f.groups {
		for i := len(g.msgs) - 1; i >= 0; i-- {
			if m := g.msgs[i]; strings.Contains(m.Text, query) {
				out = append(out, node.SearchResult{Message: m, GroupID: g.info.ID, GroupName: g.info.Name, Cursor: m.Cursor})
			}
		}
	}
	return out, nil
}

func (f *fake) HistoryAround(ref, id string, n int) ([]node.Message, error) {
	return nil, nil
}

// /search lists results; /open N switches to the result's group, pages
// back to the message (far beyond the first page) and scrolls to it.
func TestSearchOpensResultInContext(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	f.addGroup("bb", "Work", 400)
	m := start(t, f, 100, 30)
	typeLine(t, m, "/search message 17")
	if m.modal == nil || !strings.Contains(m.modal.title, "Search: message 17") {
		t.Fatalf("/search: %+v", m.modal)
	}
	list := strings.Join(m.modal.lines, "\n")
	if !strings.Contains(list, " 1. (Work)") || !strings.Contains(list, "message 17") {
		t.Fatalf("results:\n%s", list)
	}
	n := 0
	for i, r := range m.found {
		if r.Message.Text == "message 17" {
			n = i + 1
		}
	}
	key(t, m, tea.KeyEsc) // close the list
	typeLine(t, m, "/open "+strconv.Itoa(n))
	if m.isErr {
		t.Fatalf("/open: %s", m.notice)
	}
	g := m.current()
	if g == nil || g.info.ID != "bb" || m.modal != nil {
		t.Fatalf("not in Work: %+v", g)
	}
	if !g.ids[m.found[n-1].Message.ID] || g.scroll == 0 {
		t.Fatalf("result not loaded or not scrolled to: scroll %d, %d entries", g.scroll, len(g.entries))
	}
	v := checkFrame(t, m, 100, 30)
	if !strings.Contains(v, "message 17") || strings.Contains(v, "message 400") {
		t.Fatalf("view does not show the result:\n%s", v)
	}
	// The pages in front stay in order.
	for i := 1; i < len(g.entries); i++ {
		if less(g.entries[i].msg, g.entries[i-1].msg) {
			t.Fatalf("entries out of order at %d", i)
		}
	}
	key(t, m, tea.KeyEsc)
	typeLine(t, m, "/open 99")
	if !m.isErr || !strings.Contains(m.notice, "no result 99") {
		t.Fatalf("/open 99: %q", m.notice)
	}
}
