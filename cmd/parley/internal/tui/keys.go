package tui

// Key handling: group switching, scrolling, input history, panels.

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// key handles a key press.
func (m *Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.Type == tea.KeyCtrlC {
		m.quitting = true
		return m, tea.Quit
	}
	if m.modal != nil {
		return m, m.modalKey(k)
	}
	if isText(k) {
		return m.insertText(k)
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
		if m.refuseLong(line) {
			return m, nil
		}
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
	if isText(k) && len(k.Runes) != 1 {
		return nil // a word is not a panel key
	}
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
