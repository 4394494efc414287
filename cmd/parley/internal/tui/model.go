package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
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
	num     int // the number chats show ("#N"), rich.go
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
	nums   chatcmd.Numbers // message numbers for /reply, /react... (rich.go)
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
	polls    chatcmd.PollNumbers // numbers of the polls shown (/vote N)
	// ux.go: the group last marked read, its newest message then, and when.
	marked, markedLast string
	markedAt           time.Time
	found              []node.SearchResult // the last /search (search.go)
}

// New builds the model and loads the group list, peers and sync state.
func New(ctx context.Context, be backend.Backend, opts Options) *Model {
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "message, or /help"
	in.CharLimit = 0 // never cut: input.go refuses over-long text visibly
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
		m.openLast() // ux.go
	}
	m.layout()
	return m
}

// Init starts the event pump, the refresh tick and the first history page.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.waitEvents(), m.tickCmd(), m.ensureLoaded())
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

// update handles one message (Update, in ux.go, wraps it).
func (m *Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
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
		if t := node.NameTakenNotice(msg.info); t != "" {
			m.setNotice("%s: /invite shows a code (and QR) for others", t)
		} else if msg.verb == "created" {
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
	case doneMsg:
		return m, m.onDone(msg)
	case searchMsg, jumpMsg:
		return m, m.onSearch(msg) // search.go
	case groupInfoMsg:
		if g := m.groupByID(msg.info.ID); g != nil {
			g.info = msg.info
		}
		return m, nil
	}
	return m, nil
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
