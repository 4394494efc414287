package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
)

// The help panel lists the commands from the shared table, and usage and
// unknown-command errors come from it too.
func TestCommandsFromTable(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	m := start(t, f, 100, 60)
	typeLine(t, m, "/help")
	if m.modal == nil {
		t.Fatal("/help opened no panel")
	}
	help := strings.Join(m.modal.lines, "\n")
	for _, c := range chatcmd.Commands(&front{m: m}) {
		if !strings.Contains(help, c.Usage()) || !strings.Contains(help, c.Help) {
			t.Errorf("help lacks %s (%s):\n%s", c.Usage(), c.Help, help)
		}
	}
	if !strings.Contains(help, "/profile [NAME]") || strings.Contains(help, "/history") {
		t.Errorf("help should offer /profile and not /history:\n%s", help)
	}
	key(t, m, tea.KeyEsc)

	typeLine(t, m, "/create")
	if !m.isErr || m.notice != "error: usage: /create NAME" {
		t.Errorf("/create without a name: %q", m.notice)
	}
	typeLine(t, m, "/frobnicate")
	if !m.isErr || !strings.Contains(m.notice, "unknown command /frobnicate") {
		t.Errorf("unknown command: %q", m.notice)
	}
	typeLine(t, m, "/members")
	if m.modal == nil || !strings.Contains(m.modal.title, "Members of Family") {
		t.Errorf("/members: %+v", m.modal)
	}
}
