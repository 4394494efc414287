package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/node"
)

const (
	defaultPageSize = 200
	maxInputHistory = 200
	maxEventBatch   = 1024
	// A group holds at most maxHeld messages in memory; when the view is at
	// the bottom, older ones are dropped down to keepHeld and page back in
	// from the store on scrolling.
	maxHeld      = 3000
	keepHeld     = 1000
	refreshEvery = 3 * time.Second
)

// Messages the model handles (besides keys and window sizes).
type (
	eventsMsg struct {
		evs    []node.Event
		closed bool
	}
	historyMsg struct {
		group  string
		before string
		msgs   []node.Message
		err    error
	}
	sentMsg struct {
		group string
		pid   int
		msg   node.Message
		err   error
	}
	groupDoneMsg struct { // a group was created or joined
		verb string
		info node.GroupInfo
		err  error
	}
	groupsMsg struct {
		groups []node.GroupInfo
		err    error
	}
	groupInfoMsg struct{ info node.GroupInfo }
	tickMsg      time.Time
	statusMsg    struct {
		peers []node.PeerInfo
		st    node.Status
		cur   *node.GroupInfo // the current group, refreshed
	}
)

// entry is one line item of the message pane: a stored message or one
// being sent.
type entry struct {
	msg     node.Message
	pid     int    // pending send id (0: stored)
	failed  string // send error
	queued  bool   // sent while no peer was connected
	own     bool
	cacheW  int
	cacheD  string // day of the previous entry when cached
	cached  []string
	day     string // local date, cached
	pending bool
}

// groupView is the chat state of one group.
type groupView struct {
	info     node.GroupInfo
	entries  []*entry // stored messages by (lamport, id), then pending sends
	ids      map[string]bool
	loaded   bool // newest page loaded
	loading  bool
	atStart  bool // nothing older to load
	unread   int
	scroll   int // lines above the bottom
	newBelow int // messages that arrived while scrolled up
	loadErr  string
}

func newGroupView(info node.GroupInfo) *groupView {
	return &groupView{info: info, ids: map[string]bool{}}
}

type modalKind int

const (
	modalNone modalKind = iota
	modalText
	modalInvite
)

type modal struct {
	kind   modalKind
	title  string
	lines  []string
	code   string   // invite code
	qr     [][]bool // invite QR bitmap (with quiet zone)
	qrErr  string   // why no QR
	offset int      // scroll of long text
	showQR bool     // invite: QR page instead of the code
	group  string   // group name for the invite
}

// Model is the bubbletea model of the chat.
type Model struct {
	ctx    context.Context
	be     backend.Backend
	opts   Options
	events <-chan node.Event
	tick   bool // refresh peers and sync state periodically (off in tests)

	self   string
	width  int
	height int

	groups []*groupView
	cur    int // index into groups; -1: none

	input    textinput.Model
	history  []string
	histPos  int // len(history): editing a new line
	draft    string
	nextPID  int
	peers    map[string]bool
	syncs    map[string]node.SyncProgress // running pulls by peer|group
	notice   string
	isErr    bool
	busy     string // long work in progress ("joining Family…")
	modal    *modal
	result   Result
	quitting bool
}

// New builds the model and loads the group list, peers and sync state.
func New(ctx context.Context, be backend.Backend, opts Options) *Model {
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "message, or /help"
	in.CharLimit = node.MaxTextLen
	in.ShowSuggestions = false
	in.Cursor.SetMode(cursor.CursorStatic) // no blink redraws over SSH
	in.Focus()
	m := &Model{ctx: ctx, be: be, opts: opts, cur: -1, input: in, peers: map[string]bool{},
		syncs: map[string]node.SyncProgress{}, width: 80, height: 24, notice: opts.Notice}
	st := be.Status()
	m.self = st.ID
	m.applyStatus(be.Peers(), st)
	if gs, err := be.Groups(); err != nil {
		m.setErr(err)
	} else {
		m.setGroups(gs)
	}
	if len(m.groups) > 0 {
		m.cur = 0
	}
	m.layout()
	return m
}

// Init starts the event pump, the refresh tick and the first history page.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.waitEvents(), m.tickCmd(), m.ensureLoaded())
}

func (m *Model) waitEvents() tea.Cmd {
	ch := m.events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		evs := []node.Event{ev}
		for len(evs) < maxEventBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{evs: evs, closed: true}
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{evs: evs}
			}
		}
		return eventsMsg{evs: evs}
	}
}

func (m *Model) tickCmd() tea.Cmd {
	if !m.tick {
		return nil
	}
	return tea.Tick(refreshEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
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

func (m *Model) setNotice(format string, args ...any) {
	m.notice, m.isErr = fmt.Sprintf(format, args...), false
}

func (m *Model) setErr(err error) {
	m.notice, m.isErr = "error: "+err.Error(), true
}

// applyStatus replaces the peer set and sync state with a fresh reading.
func (m *Model) applyStatus(peers []node.PeerInfo, st node.Status) {
	m.peers = map[string]bool{}
	for _, p := range peers {
		m.peers[p.ID] = true
	}
	m.syncs = map[string]node.SyncProgress{}
	for _, sp := range st.Sync {
		if !sp.Done {
			m.syncs[sp.Peer+"|"+sp.Group] = sp
		}
	}
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		for _, g := range m.groups {
			if g.scroll > 0 && g.loaded {
				m.clampScroll(g)
			}
		}
		return m, m.maybeLoadOlder()
	case tea.KeyMsg:
		return m.key(msg)
	case eventsMsg:
		cmd := m.onEvents(msg.evs)
		if msg.closed {
			m.quitting = true
			return m, tea.Quit
		}
		return m, tea.Batch(cmd, m.waitEvents())
	case historyMsg:
		return m, m.onHistory(msg)
	case sentMsg:
		m.onSent(msg)
		return m, nil
	case groupDoneMsg:
		m.busy = ""
		if msg.err != nil {
			m.setErr(msg.err)
			return m, nil
		}
		m.addGroup(msg.info)
		m.switchTo(msg.info.ID)
		if msg.verb == "created" {
			m.setNotice("created %s: /invite shows a code (and QR) for others", msg.info.Name)
		} else {
			m.setNotice("joined %s", msg.info.Name)
		}
		return m, m.ensureLoaded()
	case groupsMsg:
		if msg.err != nil {
			m.setErr(msg.err)
			return m, nil
		}
		m.setGroups(msg.groups)
		return m, m.ensureLoaded()
	case tickMsg:
		be, cur := m.be, ""
		if g := m.current(); g != nil {
			cur = g.info.ID
		}
		return m, tea.Batch(m.tickCmd(), func() tea.Msg {
			sm := statusMsg{peers: be.Peers(), st: be.Status()}
			if cur != "" {
				if gi, err := be.Group(cur); err == nil {
					sm.cur = &gi
				}
			}
			return sm
		})
	case statusMsg:
		m.applyStatus(msg.peers, msg.st)
		if msg.cur != nil {
			if g := m.groupByID(msg.cur.ID); g != nil {
				g.info = *msg.cur
			}
		}
		return m, nil
	case groupInfoMsg:
		if g := m.groupByID(msg.info.ID); g != nil {
			g.info = msg.info
		}
		return m, nil
	}
	return m, nil
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

func (m *Model) onEvents(evs []node.Event) tea.Cmd {
	var cmds []tea.Cmd
	refresh := false
	joins := map[string]bool{} // groups whose member count changed
	for _, ev := range evs {
		switch ev.Type {
		case node.EventMessage:
			if ev.Message != nil {
				m.onMessage(*ev.Message)
				if ev.Message.Kind == "join" {
					joins[ev.Message.Group] = true
				}
			}
		case node.EventPeer:
			if ev.Peer == nil {
				continue
			}
			if ev.Peer.Connected {
				m.peers[ev.Peer.ID] = true
				m.clearQueued()
			} else {
				delete(m.peers, ev.Peer.ID)
				for k, sp := range m.syncs {
					if sp.Peer == ev.Peer.ID {
						delete(m.syncs, k)
					}
				}
			}
		case node.EventSync:
			if ev.Sync == nil {
				continue
			}
			sp := *ev.Sync
			k := sp.Peer + "|" + sp.Group
			if sp.Done {
				delete(m.syncs, k)
				// A peer outside the group refusing is routine (every group is
				// tried with every peer); other failures are worth a note.
				if sp.Err != "" && m.peers[sp.Peer] && !strings.Contains(sp.Err, node.ErrSyncDenied.Error()) {
					m.setNotice("sync of %s with %s failed: %s", m.groupName(sp.Group), shortID(sp.Peer), sp.Err)
				}
			} else {
				m.syncs[k] = sp
			}
		case node.EventGroup:
			refresh = true
		}
	}
	be := m.be
	for id := range joins {
		if refresh {
			break
		}
		cmds = append(cmds, func() tea.Msg {
			gi, err := be.Group(id)
			if err != nil {
				return nil
			}
			return groupInfoMsg{info: gi}
		})
	}
	for _, g := range m.groups {
		g.trim()
	}
	if refresh {
		cmds = append(cmds, func() tea.Msg {
			gs, err := be.Groups()
			return groupsMsg{groups: gs, err: err}
		})
	}
	cmds = append(cmds, m.maybeLoadOlder())
	return tea.Batch(cmds...)
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

func (m *Model) clearQueued() {
	for _, g := range m.groups {
		for _, e := range g.entries {
			if e.queued {
				e.queued = false
				e.cached = nil
			}
		}
	}
}

func (m *Model) onMessage(msg node.Message) {
	g := m.groupByID(msg.Group)
	if g == nil {
		// A group we do not list yet (joined elsewhere): the group event
		// refreshes the list; history loads when it is opened.
		return
	}
	if g.ids[msg.ID] {
		return
	}
	own := msg.Author == m.self
	g.info.Messages++
	if g.info.Last == nil || !less(msg, *g.info.Last) {
		mm := msg
		g.info.Last = &mm
	}
	if !g.loaded {
		if !own && g != m.current() {
			g.unread++
		}
		return // loads with the newest page
	}
	if !g.atStart {
		if o := g.oldestStored(); o != nil && less(msg, o.msg) {
			return // older than the loaded window: paging will find it
		}
	}
	g.ids[msg.ID] = true
	e := &entry{msg: msg, own: own}
	if own {
		// Our send, announced before Send returned: it replaces its
		// pending line (the same text, first pending first).
		for i, p := range g.entries {
			if p.pid != 0 && p.failed == "" && p.msg.Text == msg.Text {
				e.queued = p.queued
				g.entries = append(g.entries[:i], g.entries[i+1:]...)
				break
			}
		}
	}
	g.insert(e)
	if g.scroll > 0 {
		g.scroll += len(m.entryLines(g, indexOf(g.entries, e)))
		g.newBelow++
	}
	if !own && g != m.current() {
		g.unread++
	}
}

func indexOf(es []*entry, e *entry) int {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i] == e {
			return i
		}
	}
	return -1
}

func (m *Model) onSent(s sentMsg) {
	g := m.groupByID(s.group)
	if g == nil {
		return
	}
	for i, e := range g.entries {
		if e.pid != s.pid {
			continue
		}
		if s.err != nil {
			e.failed = s.err.Error()
			e.cached = nil
			m.setErr(s.err)
			return
		}
		queued := e.queued
		g.entries = append(g.entries[:i], g.entries[i+1:]...)
		if !g.ids[s.msg.ID] {
			g.ids[s.msg.ID] = true
			g.insert(&entry{msg: s.msg, own: true, queued: queued})
		} else if queued {
			for _, e := range g.entries {
				if e.msg.ID == s.msg.ID {
					e.queued, e.cached = true, nil
				}
			}
		}
		return
	}
}

// key handles a key press.
func (m *Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.Type == tea.KeyCtrlC {
		m.quitting = true
		return m, tea.Quit
	}
	if m.modal != nil {
		return m, m.modalKey(k)
	}
	g := m.current()
	page := max(1, m.paneHeight()-1)
	switch k.String() {
	case "ctrl+n", "alt+down", "ctrl+down":
		return m, m.cycle(1)
	case "ctrl+p", "alt+up", "ctrl+up":
		return m, m.cycle(-1)
	case "pgup", "shift+up":
		if g != nil {
			n := page
			if k.String() == "shift+up" {
				n = 1
			}
			g.scroll += n
			m.clampScroll(g)
			return m, m.maybeLoadOlder()
		}
		return m, nil
	case "pgdown", "shift+down":
		if g != nil {
			n := page
			if k.String() == "shift+down" {
				n = 1
			}
			g.scroll = max(0, g.scroll-n)
			if g.scroll == 0 {
				g.newBelow = 0
			}
		}
		return m, nil
	case "esc":
		if g != nil {
			g.scroll, g.newBelow = 0, 0
		}
		m.notice = ""
		return m, nil
	case "up":
		if m.histPos > 0 {
			if m.histPos == len(m.history) {
				m.draft = m.input.Value()
			}
			m.histPos--
			m.input.SetValue(m.history[m.histPos])
			m.input.CursorEnd()
		}
		return m, nil
	case "down":
		if m.histPos < len(m.history) {
			m.histPos++
			if m.histPos == len(m.history) {
				m.input.SetValue(m.draft)
			} else {
				m.input.SetValue(m.history[m.histPos])
			}
			m.input.CursorEnd()
		}
		return m, nil
	case "ctrl+d":
		if m.input.Value() == "" {
			m.quitting = true
			return m, tea.Quit
		}
	case "enter":
		line := m.input.Value()
		m.input.Reset()
		if strings.TrimSpace(line) == "" {
			if g != nil {
				g.scroll, g.newBelow = 0, 0
			}
			return m, nil
		}
		if len(m.history) == 0 || m.history[len(m.history)-1] != line {
			m.history = append(m.history, line)
			if len(m.history) > maxInputHistory {
				m.history = m.history[len(m.history)-maxInputHistory:]
			}
		}
		m.histPos, m.draft = len(m.history), ""
		return m, m.submit(line)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

func (m *Model) modalKey(k tea.KeyMsg) tea.Cmd {
	md := m.modal
	switch k.String() {
	case "esc", "q", "enter", "ctrl+g":
		m.modal = nil
	case "tab":
		md.showQR, md.offset = !md.showQR, 0
	case "up", "k", "shift+up":
		md.offset = max(0, md.offset-1)
	case "down", "j", "shift+down":
		md.offset++
	case "pgup":
		md.offset = max(0, md.offset-max(1, m.height-4))
	case "pgdown", " ":
		md.offset += max(1, m.height-4)
	}
	return nil
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

// submit handles an entered line: a message or a slash command.
func (m *Model) submit(line string) tea.Cmd {
	m.notice = ""
	text := strings.TrimSpace(line)
	if strings.HasPrefix(text, "//") {
		return m.send(text[1:])
	}
	if !strings.HasPrefix(text, "/") {
		return m.send(line)
	}
	cmd, arg, _ := strings.Cut(text, " ")
	arg = strings.TrimSpace(arg)
	ctx, be := m.ctx, m.be
	switch strings.ToLower(cmd) {
	case "/quit", "/exit", "/q":
		m.quitting = true
		return tea.Quit
	case "/help", "/?", "/h":
		m.showHelp()
	case "/create", "/new":
		if arg == "" {
			m.setErr(fmt.Errorf("usage: /create NAME"))
			return nil
		}
		m.busy = "creating " + arg + "…"
		return func() tea.Msg {
			gi, err := be.CreateGroup(ctx, arg, false)
			return groupDoneMsg{verb: "created", info: gi, err: err}
		}
	case "/join":
		if arg == "" {
			m.setErr(fmt.Errorf("usage: /join CODE (paste the invite code)"))
			return nil
		}
		code := strings.Join(strings.Fields(arg), "")
		name := "group"
		if inv, err := node.DecodeInvite(code); err == nil {
			name = inv.GroupName
		} else {
			m.setErr(err)
			return nil
		}
		m.busy = "joining " + name + ": contacting the inviter…"
		return func() tea.Msg {
			gi, err := be.Join(ctx, code)
			return groupDoneMsg{verb: "joined", info: gi, err: err}
		}
	case "/invite":
		g := m.current()
		if arg != "" {
			gi, err := be.Group(arg)
			if err != nil {
				m.setErr(err)
				return nil
			}
			g = m.groupByID(gi.ID)
		}
		if g == nil {
			m.setErr(fmt.Errorf("no group: /create NAME or /join CODE first"))
			return nil
		}
		code, err := be.Invite(g.info.ID)
		if err != nil {
			m.setErr(err)
			return nil
		}
		m.showInvite(g.info.Name, code)
	case "/switch", "/s", "/go":
		if arg == "" {
			m.setErr(fmt.Errorf("usage: /switch GROUP (or ctrl+n / ctrl+p)"))
			return nil
		}
		gi, err := be.Group(arg)
		if err != nil {
			m.setErr(err)
			return nil
		}
		if m.groupByID(gi.ID) == nil {
			m.addGroup(gi)
		}
		m.switchTo(gi.ID)
		return m.ensureLoaded()
	case "/groups":
		m.showGroups()
	case "/peers":
		m.showPeers()
	case "/members":
		g := m.current()
		if g == nil {
			m.setErr(fmt.Errorf("no current group"))
			return nil
		}
		ms, err := be.Members(g.info.ID)
		if err != nil {
			m.setErr(err)
			return nil
		}
		lines := make([]string, 0, len(ms))
		for _, mb := range ms {
			self := ""
			if mb.Self {
				self = " (you)"
			}
			lines = append(lines, fmt.Sprintf("%s%s  %s", orDash(mb.Name), self, mb.ID))
		}
		m.modal = &modal{kind: modalText, title: fmt.Sprintf("Members of %s (%d)", g.info.Name, len(ms)), lines: lines}
	case "/profile", "/profiles":
		return m.profileCmd(arg)
	default:
		m.setErr(fmt.Errorf("unknown command %s (type /help)", cmd))
	}
	return nil
}

func (m *Model) send(text string) tea.Cmd {
	g := m.current()
	if g == nil {
		m.setErr(fmt.Errorf("no group yet: /create NAME or /join CODE"))
		return nil
	}
	m.nextPID++
	pid := m.nextPID
	e := &entry{pid: pid, pending: true, own: true, queued: len(m.peers) == 0,
		msg: node.Message{Group: g.info.ID, Author: m.self, AuthorName: m.opts.Name, Time: time.Now(), Kind: "text", Text: text}}
	g.entries = append(g.entries, e)
	g.scroll, g.newBelow = 0, 0
	ctx, be, id := m.ctx, m.be, g.info.ID
	return func() tea.Msg {
		msg, err := be.Send(ctx, id, text)
		return sentMsg{group: id, pid: pid, msg: msg, err: err}
	}
}

func (m *Model) profileCmd(arg string) tea.Cmd {
	if arg != "" && arg != m.opts.Profile {
		if m.opts.Profiles == nil {
			m.setErr(fmt.Errorf("switching profiles is not available here: quit and run `parley --profile %s up`", arg))
			return nil
		}
		m.result.SwitchProfile = arg
		m.quitting = true
		return tea.Quit
	}
	lines := []string{}
	if m.opts.Profiles != nil {
		ps, err := m.opts.Profiles()
		if err != nil {
			m.setErr(err)
			return nil
		}
		for _, p := range ps {
			mark := "  "
			if p.Current {
				mark = "* "
			}
			note := ""
			if p.Running && !p.Current {
				note = "  (a node runs for it elsewhere)"
			}
			lines = append(lines, mark+p.Name+note)
		}
		lines = append(lines, "", "/profile NAME restarts this chat on profile NAME",
			"(a new NAME creates a profile with a fresh identity).")
	}
	lines = append(lines, "A profile is a separate identity, store and node;",
		"to run two at once use another terminal: parley --profile NAME up")
	m.modal = &modal{kind: modalText, title: "Profiles (current: " + m.opts.Profile + ")", lines: lines}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}
