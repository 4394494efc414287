package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

const selfID = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf"

// fake is an in-memory Backend.
type fake struct {
	mu      sync.Mutex
	groups  map[string]*fakeGroup
	peers   []node.PeerInfo
	syncs   []node.SyncProgress
	history int // History calls
	sendErr error
	calls   []string // membership calls, "verb args"
	callErr error    // what membership calls return
	uxState *fakeUX  // ux_test.go
}

type fakeGroup struct {
	info node.GroupInfo
	msgs []node.Message // oldest first
}

func newFake() *fake { return &fake{groups: map[string]*fakeGroup{}} }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local)

func (f *fake) addGroup(id, name string, n int) *fakeGroup {
	g := &fakeGroup{info: node.GroupInfo{ID: id, Name: name, Members: 2}}
	for i := 0; i < n; i++ {
		author, aname := "12D3KooWBobBobBobBobBobBobBobBobBobBobBob", "bob"
		if i%3 == 0 {
			author, aname = selfID, "me"
		}
		g.msgs = append(g.msgs, mkMsg(id, uint64(i+1), author, aname, fmt.Sprintf("message %d", i+1), t0.Add(time.Duration(i)*time.Minute)))
	}
	g.info.Messages = uint64(n)
	f.groups[id] = g
	return g
}

func mkMsg(group string, lamport uint64, author, name, text string, tm time.Time) node.Message {
	id := fmt.Sprintf("%s-%08d", group, lamport)
	return node.Message{ID: id, Group: group, Author: author, AuthorName: name, Lamport: lamport, Time: tm,
		Kind: "text", Text: text, Cursor: fmt.Sprintf("%d-%s", lamport, id)}
}

func (f *fake) Status() node.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return node.Status{ID: selfID, Peers: len(f.peers), Groups: len(f.groups), Sync: f.syncs}
}
func (f *fake) Peers() []node.PeerInfo { f.mu.Lock(); defer f.mu.Unlock(); return f.peers }
func (f *fake) Groups() ([]node.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []node.GroupInfo
	for _, g := range f.groups {
		out = append(out, g.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
func (f *fake) find(ref string) (*fakeGroup, error) {
	for _, g := range f.groups {
		if g.info.ID == ref || g.info.Name == ref {
			return g, nil
		}
	}
	return nil, node.ErrGroupNotFound
}
func (f *fake) Group(ref string) (node.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.find(ref)
	if err != nil {
		return node.GroupInfo{}, err
	}
	return g.info, nil
}
func (f *fake) Members(ref string) ([]node.Member, error) {
	return []node.Member{{ID: selfID, Name: "me", Self: true}, {ID: "12D3KooWBob", Name: "bob"}}, nil
}
func (f *fake) History(ref, before string, limit int) ([]node.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history++
	g, err := f.find(ref)
	if err != nil {
		return nil, err
	}
	end := len(g.msgs)
	if before != "" {
		for i, m := range g.msgs {
			if m.Cursor == before {
				end = i
			}
		}
	}
	start := max(0, end-limit)
	return append([]node.Message(nil), g.msgs[start:end]...), nil
}
func (f *fake) Send(_ context.Context, ref, text string) (node.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return node.Message{}, f.sendErr
	}
	g, err := f.find(ref)
	if err != nil {
		return node.Message{}, err
	}
	m := mkMsg(g.info.ID, uint64(len(g.msgs)+1), selfID, "me", text, t0.Add(time.Hour))
	g.msgs = append(g.msgs, m)
	return m, nil
}
func (f *fake) CreateGroup(_ context.Context, name string, _ bool) (node.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.addGroup(fmt.Sprintf("%064x", len(f.groups)+100), name, 0)
	return g.info, nil
}
func (f *fake) Join(context.Context, string) (node.GroupInfo, error) {
	return node.GroupInfo{}, errors.New("no joining in the fake")
}
func (f *fake) Invite(ref string) (string, error) {
	return "parley1" + strings.Repeat("abcdefgh234567", 12), nil
}
func (f *fake) Subscribe() (<-chan node.Event, func()) { return nil, func() {} }

// drive feeds msg to the model and runs the commands it returns, feeding
// their results back, until none are left. The fake's commands never block.
func drive(t *testing.T, m *Model, msg tea.Msg) {
	t.Helper()
	queue := []tea.Msg{msg}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("command loop does not settle")
		}
		msg, queue = queue[0], queue[1:]
		if msg == nil {
			continue
		}
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				if c != nil {
					queue = append(queue, c())
				}
			}
			continue
		}
		if _, ok := msg.(tea.QuitMsg); ok {
			continue
		}
		_, cmd := m.Update(msg)
		if cmd != nil {
			queue = append(queue, cmd())
		}
	}
}

func start(t *testing.T, f *fake, w, h int) *Model {
	t.Helper()
	m := New(context.Background(), f, Options{Profile: "default", Name: "me", PageSize: 50})
	if c := m.Init(); c != nil {
		drive(t, m, c())
	}
	drive(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func typeLine(t *testing.T, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	drive(t, m, tea.KeyMsg{Type: tea.KeyEnter})
}

func key(t *testing.T, m *Model, k tea.KeyType) { t.Helper(); drive(t, m, tea.KeyMsg{Type: k}) }

// checkFrame asserts the view is exactly w×h cells.
func checkFrame(t *testing.T, m *Model, w, h int) string {
	t.Helper()
	v := m.View()
	lines := strings.Split(v, "\n")
	if len(lines) != h {
		t.Fatalf("%dx%d: view has %d lines, want %d:\n%s", w, h, len(lines), h, v)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw != w {
			t.Fatalf("%dx%d: line %d is %d cells wide, want %d: %q", w, h, i, lw, w, ansi.Strip(l))
		}
	}
	return ansi.Strip(v)
}

func TestViewShowsGroupsMessagesAndFits(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 30)
	f.addGroup("bb", "Work", 5)
	m := start(t, f, 80, 24)
	v := checkFrame(t, m, 80, 24)
	for _, want := range []string{"Groups", "Family", "Work", "# Family", "message 30", "bob", "○ offline", "me@default"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// Messages in another group count as unread there.
	ping, again := mkMsg("bb", 6, "12D3KooWBob", "bob", "ping", t0), mkMsg("bb", 7, "12D3KooWBob", "bob", "ping again", t0)
	f.groups["bb"].msgs = append(f.groups["bb"].msgs, ping, again) // stored, then announced
	drive(t, m, eventsMsg{evs: []node.Event{
		{Type: node.EventMessage, Group: "bb", Message: &ping},
		{Type: node.EventMessage, Group: "bb", Message: &again},
		{Type: node.EventPeer, Peer: &node.PeerEvent{ID: "12D3KooWBob", Connected: true}},
	}})
	v = checkFrame(t, m, 80, 24)
	if !regexpLine(v, " Work ", "2 │") {
		t.Errorf("no unread count 2 next to Work:\n%s", v)
	}
	if !strings.Contains(v, "● 1 peer") {
		t.Errorf("no peer indicator:\n%s", v)
	}
	// Switching clears the count and shows the new messages.
	key(t, m, tea.KeyCtrlN)
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "# Work") || !strings.Contains(v, "ping again") || regexpLine(v, " Work ", "2 │") {
		t.Errorf("after ctrl+n:\n%s", v)
	}
}

func ptr[T any](v T) *T { return &v }

// regexpLine reports whether a line containing a also contains b.
func regexpLine(v, a, b string) bool {
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}

func TestResize(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "A group with a rather long name indeed", 100)
	f.addGroup("bb", "Work", 5)
	m := start(t, f, 80, 24)
	for _, sz := range [][2]int{{40, 12}, {200, 60}, {80, 24}, {20, 5}, {1, 1}, {10, 3}} {
		drive(t, m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		checkFrame(t, m, sz[0], sz[1])
		typeLine(t, m, "/help")
		checkFrame(t, m, sz[0], sz[1])
		key(t, m, tea.KeyEsc)
		typeLine(t, m, "/invite")
		checkFrame(t, m, sz[0], sz[1])
		key(t, m, tea.KeyTab)
		checkFrame(t, m, sz[0], sz[1])
		key(t, m, tea.KeyEsc)
	}
	drive(t, m, tea.WindowSizeMsg{Width: 40, Height: 12})
	v := checkFrame(t, m, 40, 12)
	if strings.Contains(v, "Groups") {
		t.Errorf("40 columns should hide the group list:\n%s", v)
	}
	if !strings.Contains(v, "message 100") {
		t.Errorf("40x12 lacks the newest message:\n%s", v)
	}
}

func TestScrollbackPagesFromStore(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Big", 5000)
	m := start(t, f, 80, 24)
	if got := len(m.current().entries); got != 50 {
		t.Fatalf("loaded %d messages at start, want one page of 50", got)
	}
	// Page up to the very top: history loads in pages as the view nears
	// the oldest loaded message, never all at once.
	maxLoaded := 0
	for i := 0; i < 1000 && !strings.Contains(m.View(), "(start of Big)"); i++ {
		key(t, m, tea.KeyPgUp)
		loaded := len(m.current().entries)
		if loaded-maxLoaded > 2*50 {
			t.Fatalf("loaded %d messages in one step", loaded-maxLoaded)
		}
		maxLoaded = loaded
	}
	v := checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "(start of Big)") || !strings.Contains(v, "message 1 ") {
		t.Fatalf("never reached the start:\n%s", v)
	}
	if got := len(m.current().entries); got != 5000 {
		t.Errorf("have %d messages at the top, want 5000", got)
	}
	// A new message while scrolled up keeps the view and says so.
	before := v
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventMessage, Group: "aa", Message: ptr(mkMsg("aa", 5001, "12D3KooWBob", "bob", "fresh", t0.Add(200*time.Hour)))}}})
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "↓ 1 new") {
		t.Errorf("no new-message hint:\n%s", v)
	}
	if paneOf(v) != paneOf(before) {
		t.Errorf("view moved when a message arrived:\n%s\nwas:\n%s", v, before)
	}
	key(t, m, tea.KeyEsc)
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "fresh") {
		t.Errorf("esc did not jump to the newest:\n%s", v)
	}
}

// paneOf is the message rows of a frame.
func paneOf(v string) string {
	lines := strings.Split(v, "\n")
	return strings.Join(lines[1:len(lines)-2], "\n")
}

func TestSendCreateAndHistory(t *testing.T) {
	f := newFake()
	m := start(t, f, 80, 24)
	v := checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "no groups yet") {
		t.Errorf("no welcome:\n%s", v)
	}
	typeLine(t, m, "hello")
	if !strings.Contains(m.View(), "no group yet") {
		t.Errorf("sending without a group should say so:\n%s", m.View())
	}
	typeLine(t, m, "/create Book club")
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "# Book club") {
		t.Fatalf("create did not switch:\n%s", v)
	}
	typeLine(t, m, "hello there")
	typeLine(t, m, "//slash")
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "me: hello there ◷") || !strings.Contains(v, "me: /slash") {
		t.Errorf("sent messages missing (or not marked queued while offline):\n%s", v)
	}
	// The event for our own message does not duplicate it.
	g := f.groups[m.current().info.ID]
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventMessage, Group: g.info.ID, Message: ptr(g.msgs[0])}}})
	if n := strings.Count(m.View(), "hello there"); n != 1 {
		t.Errorf("message shown %d times", n)
	}
	// A send announced (event) before Send returns shows once, not pending.
	for _, r := range "raced" {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	_, sendCmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if v := m.View(); !strings.Contains(v, "raced …") {
		t.Errorf("no pending mark:\n%s", v)
	}
	sent := sendCmd() // Send ran and announced the message...
	g = f.groups[m.current().info.ID]
	drive(t, m, eventsMsg{evs: []node.Event{{Type: node.EventMessage, Group: g.info.ID, Message: ptr(g.msgs[len(g.msgs)-1])}}})
	if v := m.View(); strings.Count(v, "raced") != 1 || strings.Contains(v, "raced …") {
		t.Errorf("raced send shown wrongly:\n%s", v)
	}
	drive(t, m, sent) // ...and its result arrives after the event
	if v := m.View(); strings.Count(v, "raced") != 1 || !strings.Contains(v, "raced ◷") {
		t.Errorf("raced send after result:\n%s", v)
	}
	// Input history.
	key(t, m, tea.KeyUp)
	key(t, m, tea.KeyUp)
	key(t, m, tea.KeyUp)
	if got := m.input.Value(); got != "hello there" {
		t.Errorf("history recall = %q", got)
	}
	key(t, m, tea.KeyDown)
	key(t, m, tea.KeyDown)
	key(t, m, tea.KeyDown)
	if got := m.input.Value(); got != "" {
		t.Errorf("after down = %q", got)
	}
	// A failed send is marked.
	f.sendErr = errors.New("boom")
	typeLine(t, m, "doomed")
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "doomed ✗ not sent: boom") {
		t.Errorf("failure not shown:\n%s", v)
	}
}

func TestSyncProgressAndInvite(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	m := start(t, f, 80, 24)
	drive(t, m, eventsMsg{evs: []node.Event{
		{Type: node.EventPeer, Peer: &node.PeerEvent{ID: "12D3KooWAliceAlice", Connected: true}},
		{Type: node.EventSync, Group: "aa", Sync: &node.SyncProgress{Peer: "12D3KooWAliceAlice", Group: "aa", Received: 3200, Total: 10000}},
	}})
	v := checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "catching up 3,200/10,000 from …iceAlice") {
		t.Errorf("no sync progress:\n%s", v)
	}
	drive(t, m, eventsMsg{evs: []node.Event{
		{Type: node.EventSync, Group: "aa", Sync: &node.SyncProgress{Peer: "12D3KooWAliceAlice", Group: "aa", Received: 10000, Total: 10000, Done: true}},
	}})
	if v := checkFrame(t, m, 80, 24); strings.Contains(v, "catching up") {
		t.Errorf("progress stays after done:\n%s", v)
	}

	typeLine(t, m, "/invite")
	v = checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "parley1abcdefgh") || !strings.Contains(v, "Invite to Family") {
		t.Errorf("invite panel:\n%s", v)
	}
	key(t, m, tea.KeyTab)
	drive(t, m, tea.WindowSizeMsg{Width: 120, Height: 50})
	v = checkFrame(t, m, 120, 50)
	if !strings.Contains(v, "█") || !strings.Contains(v, "▀") {
		t.Errorf("no QR code drawn:\n%s", v)
	}
	key(t, m, tea.KeyEsc)
	if m.modal != nil {
		t.Error("esc did not close the panel")
	}
}

func TestQRBitmapRoundTrip(t *testing.T) {
	bm, err := qrBitmap("parley1" + strings.Repeat("abcdefgh234567", 12))
	if err != nil {
		t.Fatal(err)
	}
	q := withQuiet(bm, 2)
	if len(q)%2 != 0 || len(q[0]) != len(bm)+4 {
		t.Fatalf("quiet zone: %dx%d from %d", len(q[0]), len(q), len(bm))
	}
	lines := qrLines(q)
	if len(lines) != len(q)/2 {
		t.Fatalf("%d lines for %d rows", len(lines), len(q))
	}
	// Finder pattern: the top-left module inside the quiet zone is dark.
	if !q[2][2] || q[0][0] {
		t.Error("bitmap orientation")
	}
	// The half blocks draw exactly the bitmap (light modules as ink).
	for y, l := range lines {
		for x, r := range []rune(ansi.Strip(l)) {
			top, bot := map[rune][2]bool{'█': {true, true}, '▀': {true, false}, '▄': {false, true}, ' ': {}}[r][0],
				map[rune][2]bool{'█': {true, true}, '▀': {true, false}, '▄': {false, true}, ' ': {}}[r][1]
			if top != !q[2*y][x] || bot != !q[2*y+1][x] {
				t.Fatalf("cell %d,%d %q does not match modules %v %v", x, y, r, q[2*y][x], q[2*y+1][x])
			}
		}
	}
}

func TestSanitize(t *testing.T) {
	got := termtext.Sanitize("a\x1b[31mred\x07\u202eevil\tb")
	if strings.ContainsAny(got, "\x1b\x07\u202e\t") {
		t.Errorf("sanitize left control characters: %q", got)
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		s           string
		first, rest int
	}{
		{"hello world this is text", 10, 6},
		{strings.Repeat("x", 50), 7, 3},
		{"日本語のテキストです 日本語", 5, 4},
		{"a\nb\n\nc", 3, 3},
		{"", 5, 5},
	} {
		lines := wrap(c.s, c.first, c.rest)
		for i, l := range lines {
			lim := c.rest
			if i == 0 {
				lim = c.first
			}
			if ansi.StringWidth(l) > lim {
				t.Errorf("wrap(%q,%d,%d) line %d %q too wide", c.s, c.first, c.rest, i, l)
			}
		}
	}
}

func TestProfileCommand(t *testing.T) {
	f := newFake()
	m := New(context.Background(), f, Options{Profile: "default", Profiles: func() ([]Profile, error) {
		return []Profile{{Name: "b"}, {Name: "default", Current: true}}, nil
	}})
	drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	typeLine(t, m, "/profile")
	v := checkFrame(t, m, 80, 24)
	if !strings.Contains(v, "* default") || !strings.Contains(v, "  b") {
		t.Errorf("profile list:\n%s", v)
	}
	key(t, m, tea.KeyEsc)
	for _, r := range "/profile b" {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("no quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok || m.result.SwitchProfile != "b" {
		t.Errorf("switch result %+v", m.result)
	}
}

// TestRunProgram drives the real bubbletea program through its input.
func TestRunProgram(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	res, err := Run(context.Background(), f, strings.NewReader("/profile x\r"), io.Discard, Options{Profile: "default",
		Profiles: func() ([]Profile, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.SwitchProfile != "x" {
		t.Errorf("result %+v", res)
	}
}

// TestRunStopsWithContext: a signal (ctx end) stops the chat.
func TestRunStopsWithContext(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	if _, err := Run(ctx, f, pr, io.Discard, Options{}); err != nil {
		t.Fatal(err)
	}
}
