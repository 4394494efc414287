package tui

// The group list and each group's message window: which group is current,
// paging history in from the store, merging live messages, trimming.

import (
	"sort"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

// groupView is the chat state of one group.
type groupView struct {
	info     node.GroupInfo
	entries  []*entry // stored messages by (lamport, id), then pending sends
	ids      map[string]bool
	loaded   bool // newest page loaded
	loading  bool
	atStart  bool // nothing older to load
	unread   int
	mentions int // of the unread, those mentioning me (ux.go)
	scroll   int // lines above the bottom
	newBelow int // messages that arrived while scrolled up
	loadErr  string
}

func newGroupView(info node.GroupInfo) *groupView {
	g := &groupView{info: info, ids: map[string]bool{}}
	newGroupCounts(g)
	return g
}

func (m *Model) current() *groupView {
	if m.cur < 0 || m.cur >= len(m.groups) {
		return nil
	}
	return m.groups[m.cur]
}

func (m *Model) groupByID(id string) *groupView {
	for _, g := range m.groups {
		if g.info.ID == id {
			return g
		}
	}
	return nil
}

func (m *Model) groupName(id string) string {
	if g := m.groupByID(id); g != nil {
		return g.info.Name
	}
	return shortID(id)
}

// setGroups merges a fresh group list, keeping each group's chat state and
// the current group.
func (m *Model) setGroups(gs []node.GroupInfo) {
	var curID string
	if c := m.current(); c != nil {
		curID = c.info.ID
	}
	old := map[string]*groupView{}
	for _, g := range m.groups {
		old[g.info.ID] = g
	}
	m.groups = m.groups[:0:0]
	for _, gi := range gs {
		if g, ok := old[gi.ID]; ok {
			g.info = gi
			m.groups = append(m.groups, g)
		} else {
			m.groups = append(m.groups, newGroupView(gi))
		}
	}
	m.cur = -1
	for i, g := range m.groups {
		if g.info.ID == curID {
			m.cur = i
		}
	}
	if m.cur < 0 && len(m.groups) > 0 {
		m.cur = 0
	}
}

func (m *Model) addGroup(gi node.GroupInfo) {
	if g := m.groupByID(gi.ID); g != nil {
		g.info = gi
		return
	}
	m.groups = append(m.groups, newGroupView(gi))
	curID := ""
	if c := m.current(); c != nil {
		curID = c.info.ID
	}
	sort.SliceStable(m.groups, func(i, j int) bool {
		a, b := m.groups[i].info, m.groups[j].info
		return a.Name < b.Name || (a.Name == b.Name && a.ID < b.ID)
	})
	if curID != "" {
		m.switchTo(curID)
	} else {
		m.cur = 0
	}
}

func (m *Model) switchTo(id string) {
	for i, g := range m.groups {
		if g.info.ID == id {
			m.cur = i
			g.unread = 0
			return
		}
	}
}

// cycle moves to the next (d=1) or previous (d=-1) group.
func (m *Model) cycle(d int) tea.Cmd {
	if len(m.groups) == 0 {
		return nil
	}
	m.cur = (m.cur + d + len(m.groups)) % len(m.groups)
	m.groups[m.cur].unread = 0
	return m.ensureLoaded()
}

// ensureLoaded loads the newest page of the current group once.
func (m *Model) ensureLoaded() tea.Cmd {
	g := m.current()
	if g == nil || g.loaded || g.loading {
		return nil
	}
	g.loading = true
	return m.loadCmd(g.info.ID, "")
}

func (m *Model) loadCmd(group, before string) tea.Cmd {
	be, n := m.be, m.opts.PageSize
	return func() tea.Msg {
		ms, err := be.History(group, before, n)
		return historyMsg{group: group, before: before, msgs: ms, err: err}
	}
}

func (m *Model) onHistory(h historyMsg) tea.Cmd {
	g := m.groupByID(h.group)
	if g == nil {
		return nil
	}
	g.loading = false
	if h.err != nil {
		g.loadErr = h.err.Error()
		m.setErr(h.err)
		return nil
	}
	g.loadErr = ""
	if len(h.msgs) < m.opts.PageSize {
		g.atStart = true
	}
	fresh := make([]*entry, 0, len(h.msgs))
	for _, msg := range h.msgs {
		if g.ids[msg.ID] {
			continue
		}
		g.ids[msg.ID] = true
		fresh = append(fresh, &entry{msg: msg, own: msg.Author == m.self})
	}
	if h.before == "" && !g.loaded {
		// Newest page: live events may have arrived first; merge by order.
		g.loaded = true
		for _, e := range fresh {
			g.insert(e)
		}
	} else {
		// An older page goes in front; the view keeps its place because
		// scroll counts lines from the bottom.
		g.entries = append(fresh, g.entries...)
	}
	return m.maybeLoadOlder()
}

// oldestStored is the oldest loaded stored message.
func (g *groupView) oldestStored() *entry {
	for _, e := range g.entries {
		if e.pid == 0 {
			return e
		}
	}
	return nil
}

// oldestCursor is the cursor of the oldest loaded stored message.
func (g *groupView) oldestCursor() string {
	if e := g.oldestStored(); e != nil {
		return e.msg.Cursor
	}
	return ""
}

func less(a, b node.Message) bool {
	if a.Lamport != b.Lamport {
		return a.Lamport < b.Lamport
	}
	return a.ID < b.ID
}

// insert places a stored message by (lamport, id), before pending sends.
func (g *groupView) insert(e *entry) {
	n := len(g.entries)
	for n > 0 && g.entries[n-1].pid != 0 {
		n--
	}
	i := sort.Search(n, func(i int) bool { return less(e.msg, g.entries[i].msg) })
	g.entries = append(g.entries, nil)
	copy(g.entries[i+1:], g.entries[i:])
	g.entries[i] = e
	if i+1 < len(g.entries) {
		g.entries[i+1].cached = nil // its day separator may change
	}
}

// trim drops the oldest held messages of a long group while its view is
// at the bottom; scrolling up pages them back in from the store.
func (g *groupView) trim() {
	if g.scroll != 0 || len(g.entries) <= maxHeld {
		return
	}
	drop := len(g.entries) - keepHeld
	for _, e := range g.entries[:drop] {
		if e.pid != 0 {
			return // keep pending sends (they are at the end anyway)
		}
		delete(g.ids, e.msg.ID)
	}
	g.entries = append([]*entry(nil), g.entries[drop:]...)
	g.atStart = false
	g.entries[0].cached = nil
}

func (m *Model) clampScroll(g *groupView) {
	if g == nil {
		return
	}
	total := m.countLines(g, g.scroll+m.paneHeight())
	if g.atStart && total < g.scroll+m.paneHeight() {
		total++ // the "start of" line
	}
	maxScroll := max(0, total-m.paneHeight())
	if g.scroll > maxScroll {
		g.scroll = maxScroll
	}
}

// maybeLoadOlder asks for the page before the oldest loaded message when
// the view comes within a screen of it.
func (m *Model) maybeLoadOlder() tea.Cmd {
	g := m.current()
	if g == nil || !g.loaded || g.loading || g.atStart {
		return nil
	}
	need := g.scroll + 2*m.paneHeight()
	if m.countLines(g, need) >= need {
		return nil
	}
	before := g.oldestCursor()
	if before == "" {
		return nil
	}
	g.loading = true
	return m.loadCmd(g.info.ID, before)
}
