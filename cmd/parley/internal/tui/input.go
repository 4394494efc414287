package tui

// Input taken as typed. Bubbletea reports every run of printable runes that
// arrives in one read as one KeyMsg of type KeyRunes; its String() is the
// runes themselves, so a word such as "up", "down" or "enter" that arrives in
// one read (a paste without bracketed paste, a slow ssh link) used to match
// the key names in the switch of key(). Text is therefore recognised by its
// type, never by its string, and inserted with Paste set so that the text
// input's own key bindings (which also compare strings) cannot match it.

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

// maxInputBytes bounds what the input line holds: a paste past it is
// refused (with a notice), not cut. It is above node.MaxTextLen so that an
// over-long line can still be seen and shortened; enter refuses to send it.
const maxInputBytes = 4 * node.MaxTextLen

// counterFrom is the input length from which the byte counter shows.
const counterFrom = node.MaxTextLen * 3 / 4

// isText reports whether k is typed or pasted text rather than a key: any
// run of runes without Alt, however many runes it holds and whatever they
// spell.
func isText(k tea.KeyMsg) bool { return k.Type == tea.KeyRunes && !k.Alt }

// insertText puts text into the input line, as text.
func (m *Model) insertText(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	have, add := len(m.input.Value()), len(string(k.Runes))
	if have+add > maxInputBytes {
		m.setErr(fmt.Errorf("paste of %d bytes refused: a message is at most %d bytes of UTF-8 (the line holds %d)",
			add, node.MaxTextLen, have))
		return m, nil
	}
	k.Paste = true
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

// refuseLong reports (and says) whether line is over the message limit;
// the line then stays in the input to be shortened.
func (m *Model) refuseLong(line string) bool {
	if len(line) <= node.MaxTextLen {
		return false
	}
	m.setErr(fmt.Errorf("not sent: %d bytes; a message is at most %d bytes of UTF-8", len(line), node.MaxTextLen))
	return true
}

// byteCounter is "N/LIMIT B" once the input nears the limit, else "".
func (m *Model) byteCounter() string {
	n := len(m.input.Value())
	if n < counterFrom {
		return ""
	}
	s := fmt.Sprintf("%d/%d B", n, node.MaxTextLen)
	if n > node.MaxTextLen {
		return errStyle.Render(s)
	}
	return warnStyle.Render(s)
}
