package tui

// Entered lines: messages are sent; slash commands run from the shared
// chatcmd table through front, which turns each action into model changes
// and, for slow work, a tea.Cmd.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// submit handles an entered line: a message or a slash command.
func (m *Model) submit(line string) tea.Cmd {
	m.notice = ""
	text, isCmd := chatcmd.Parse(line)
	if !isCmd {
		return m.send(text)
	}
	f := &front{m: m}
	if err := chatcmd.Run(f, text); err != nil {
		m.setErr(err)
		return nil
	}
	return f.cmd
}

// front is the chat commands' view of the model; cmd is the work a
// command leaves for bubbletea.
type front struct {
	m   *Model
	cmd tea.Cmd
}

var (
	_ chatcmd.Front        = (*front)(nil)
	_ chatcmd.ProfileFront = (*front)(nil)
)

func (f *front) Quit() {
	f.m.quitting = true
	f.cmd = tea.Quit
}

func (f *front) ShowHelp(cmds []string) { f.m.showHelp(cmds) }

func (f *front) Create(name string) error {
	ctx, be := f.m.ctx, f.m.be
	f.m.busy = "creating " + termtext.OneLine(name) + "…"
	f.cmd = func() tea.Msg {
		gi, err := be.CreateGroup(ctx, name, false)
		return groupDoneMsg{verb: "created", info: gi, err: err}
	}
	return nil
}

func (f *front) Join(code string) error {
	inv, err := node.DecodeInvite(code)
	if err != nil {
		return err
	}
	ctx, be := f.m.ctx, f.m.be
	f.m.busy = "joining " + termtext.OneLine(inv.GroupName) + ": contacting the inviter…"
	f.cmd = func() tea.Msg {
		gi, err := be.Join(ctx, code)
		return groupDoneMsg{verb: "joined", info: gi, err: err}
	}
	return nil
}

func (f *front) Invite(group string) error {
	m := f.m
	g := m.current()
	if group != "" {
		gi, err := m.be.Group(group)
		if err != nil {
			return err
		}
		g = m.groupByID(gi.ID)
	}
	if g == nil {
		return fmt.Errorf("no group: /create NAME or /join CODE first")
	}
	code, err := m.be.Invite(g.info.ID)
	if err != nil {
		return err
	}
	m.showInvite(g.info.Name, code)
	return nil
}

func (f *front) Switch(group string) error {
	m := f.m
	gi, err := m.be.Group(group)
	if err != nil {
		return err
	}
	if m.groupByID(gi.ID) == nil {
		m.addGroup(gi)
	}
	m.switchTo(gi.ID)
	f.cmd = m.ensureLoaded()
	return nil
}

func (f *front) ListGroups() error { f.m.showGroups(); return nil }
func (f *front) ListPeers() error  { f.m.showPeers(); return nil }

func (f *front) ListMembers() error {
	m := f.m
	g := m.current()
	if g == nil {
		return fmt.Errorf("no current group")
	}
	ms, err := backend.MemberRows(m.be, g.info.ID)
	if err != nil {
		return err
	}
	lines := make([]string, 0, len(ms))
	for _, mb := range ms {
		self := ""
		if mb.Self {
			self = " (you)"
		}
		lines = append(lines, fmt.Sprintf("%s%s  %s  %s  %s", orDash(termtext.OneLine(mb.Name)), self, orDash(termtext.OneLine(mb.Role)),
			orDash(termtext.OneLine(mb.SafetyNumber)), termtext.OneLine(mb.PeerID)))
	}
	m.modal = &modal{kind: modalText, title: fmt.Sprintf("Members of %s (%d)", g.info.Name, len(ms)), lines: lines}
	return nil
}

// Profile lists profiles, or ends the chat asking the caller to restart it
// on profile name.
func (f *front) Profile(name string) error {
	m := f.m
	if name != "" && name != m.opts.Profile {
		if m.opts.Profiles == nil {
			return fmt.Errorf("switching profiles is not available here: quit and run `parley --profile %s up`", name)
		}
		m.result.SwitchProfile = name
		f.Quit()
		return nil
	}
	lines := []string{}
	if m.opts.Profiles != nil {
		ps, err := m.opts.Profiles()
		if err != nil {
			return err
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

// showHelp opens the help panel: cmds (from the command table), then keys.
func (m *Model) showHelp(cmds []string) {
	lines := []string{"Type a message and press enter to send it to the current group.", ""}
	lines = append(lines, cmds...)
	lines = append(lines,
		"",
		"ctrl+n / ctrl+p   next / previous group (also alt+↓/↑)",
		"pgup / pgdn       scroll history (shift+↑/↓: one line)",
		"esc               back to the newest message",
		"↑ / ↓             input history",
		"ctrl+c            quit",
		"",
		"Marks on your messages: … sending, ✓ stored and sent to the",
		"group, ◷ stored while no peer was online (sync delivers it",
		"later), ✗ failed. Unread counts are for this session.",
		"For a line-based chat (scripts, screen readers): parley up --plain",
	)
	if m.opts.LogFile != "" {
		lines = append(lines, "Node log: "+m.opts.LogFile)
	}
	m.modal = &modal{kind: modalText, title: "Help", lines: lines}
}
func (m *Model) showGroups() {
	var lines []string
	for i, g := range m.groups {
		mark := "  "
		if i == m.cur {
			mark = "* "
		}
		unread := ""
		if g.unread > 0 {
			unread = fmt.Sprintf(", %d unread", g.unread)
		}
		lines = append(lines, fmt.Sprintf("%s%s  %d members, %d messages%s  %s", mark, termtext.OneLine(g.info.Name), g.info.Members, g.info.Messages, unread, g.info.ID[:min(12, len(g.info.ID))]))
	}
	if len(lines) == 0 {
		lines = []string{"no groups yet: /create NAME or /join CODE"}
	}
	m.modal = &modal{kind: modalText, title: fmt.Sprintf("Groups (%d)", len(m.groups)), lines: lines}
}

func (m *Model) showPeers() {
	ps := m.be.Peers()
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lat := "-"
		if p.LatencyMs > 0 {
			lat = fmt.Sprintf("%.1fms", p.LatencyMs)
		}
		lines = append(lines, fmt.Sprintf("%s  via %s  %s  %s", p.ID, p.Via, lat, strings.Join(p.Addrs, " ")))
	}
	if len(lines) == 0 {
		lines = []string{"no peers connected"}
	}
	st := m.be.Status()
	lines = append(lines, "", "you: "+st.ID)
	sort.Strings(st.Addrs)
	for _, a := range st.Addrs {
		lines = append(lines, "  listening on "+a)
	}
	m.modal = &modal{kind: modalText, title: fmt.Sprintf("Peers (%d connected)", len(ps)), lines: lines}
}
