package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

// word delivers s as bubbletea does for one read holding it: a single
// KeyRunes message with all the runes (spaces and control characters come
// as their own messages, as the reader splits at them).
func word(t *testing.T, m *Model, s string) {
	t.Helper()
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			drive(t, m, tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		}
		if w != "" {
			drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(w)})
		}
	}
}

func sentTexts(f *fake, id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.groups[id].msgs {
		if m.Author == selfID && m.Lamport > 100 {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestWordsInOneReadAreText(t *testing.T) {
	f := newFake()
	g := f.addGroup("aa", "Family", 0)
	_ = g
	m := start(t, f, 80, 24)
	f.mu.Lock()
	for i := range 100 { // lamport > 100 marks what this test sent
		f.groups["aa"].msgs = append(f.groups["aa"].msgs, mkMsg("aa", uint64(i+1), "12D3KooWBob", "bob", "x", t0))
	}
	f.mu.Unlock()
	typeLine(t, m, "first message") // input history now holds a line "up" would recall
	for _, s := range []string{"please look up", "up", "down", "enter", "pgup", "esc", "ctrl+n", "ctrl+c", "right left home"} {
		word(t, m, s)
		if got := m.input.Value(); got != s {
			t.Fatalf("after the words %q the input holds %q", s, got)
		}
		if m.quitting {
			t.Fatalf("%q quit the chat", s)
		}
		key(t, m, tea.KeyEnter)
	}
	// The same words pasted (bracketed paste) are text too.
	drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("up down"), Paste: true})
	if got := m.input.Value(); got != "up down" {
		t.Fatalf("pasted: input %q", got)
	}
	key(t, m, tea.KeyEnter)
	want := []string{"first message", "please look up", "up", "down", "enter", "pgup", "esc", "ctrl+n", "ctrl+c", "right left home", "up down"}
	if got := sentTexts(f, "aa"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sent %q\nwant %q", got, want)
	}
	// The real Up key still recalls the previous line.
	key(t, m, tea.KeyUp)
	if got := m.input.Value(); got != "up down" {
		t.Fatalf("Up key: input %q", got)
	}
}

func TestOverLongInputRefusedNotCut(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 0)
	m := start(t, f, 100, 24)
	long := strings.Repeat("é", node.MaxTextLen/2) + "x" // MaxTextLen+1 bytes, fewer runes
	drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(long), Paste: true})
	if m.input.Value() != long {
		t.Fatalf("input holds %d bytes, want all %d", len(m.input.Value()), len(long))
	}
	v := checkFrame(t, m, 100, 24)
	if !strings.Contains(v, "16385/16384 B") {
		t.Errorf("no byte counter:\n%s", v)
	}
	key(t, m, tea.KeyEnter)
	if n := len(f.groups["aa"].msgs); n != 0 {
		t.Fatalf("an over-long line was sent (%d messages)", n)
	}
	if m.input.Value() != long || !m.isErr || !strings.Contains(m.notice, "16384 bytes") {
		t.Fatalf("refusal: notice %q, input kept %v", m.notice, m.input.Value() == long)
	}
	// One byte less is sent whole.
	key(t, m, tea.KeyBackspace)
	key(t, m, tea.KeyEnter)
	if len(f.groups["aa"].msgs) != 1 || f.groups["aa"].msgs[0].Text != long[:len(long)-1] {
		t.Fatalf("the line at the limit was not sent whole")
	}
	// A paste past the input's bound is refused with the limit shown.
	drive(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(strings.Repeat("a", maxInputBytes+1)), Paste: true})
	if m.input.Value() != "" || !strings.Contains(m.notice, "refused") {
		t.Fatalf("huge paste: input %d bytes, notice %q", len(m.input.Value()), m.notice)
	}
}
