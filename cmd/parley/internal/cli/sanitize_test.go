package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/node"
)

// hostile holds what a malicious member could put in a text or a name: CSI
// and OSC escape sequences, BEL, CR (overwrites the line), C1 controls
// (0x9b is an 8-bit CSI) and a bidirectional override.
const hostile = "hi\x1b[2J\x1b]0;pwned\x07\rX\u009b31m\u0085\u202eevil"

// rawControl reports the first terminal control character in s (newlines
// excepted), or -1.
func rawControl(s string) rune {
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return r
		}
	}
	return -1
}

func hostileMessage(kind string) node.Message {
	return node.Message{Group: "g1", Author: "12D3KooWauthor", AuthorName: "mal\x1b[31mlory\r",
		Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Kind: kind, Text: hostile}
}

func TestFormatLineSanitises(t *testing.T) {
	for _, kind := range []string{"text", "join", "x\x1b[1m"} {
		got := formatLine(hostileMessage(kind), "15:04", "grp\x1b[5m")
		if r := rawControl(got); r != -1 {
			t.Errorf("kind %q: formatLine left %U: %q", kind, r, got)
		}
		if strings.Contains(got, "\n") {
			t.Errorf("kind %q: a name or text without newline became several lines: %q", kind, got)
		}
	}
	if got := formatLine(hostileMessage("text"), "15:04", ""); !strings.Contains(got, "hi") || !strings.Contains(got, "evil") {
		t.Errorf("text lost: %q", got)
	}
	// Newlines in a text are kept (multi-line messages); names stay on one line.
	m := hostileMessage("text")
	m.AuthorName, m.Text = "a\nb", "one\ntwo"
	if got := formatLine(m, "15:04", ""); !strings.Contains(got, "a b: one\ntwo") {
		t.Errorf("newlines: %q", got)
	}
	if got := clip("x\x1b[2Jy\n\x07z", 40); rawControl(got) != -1 || strings.Contains(got, "\n") {
		t.Errorf("clip: %q", got)
	}
}

// The line chat prints live messages and command output sanitised.
func TestLineChatSanitises(t *testing.T) {
	var out, errb bytes.Buffer
	c := &chatUI{a: &app{stdout: &out, stderr: &errb}, names: map[string]string{"g1": "room\x1b[8m"}}
	msg := hostileMessage("text")
	c.event(node.Event{Type: node.EventMessage, Group: "g1", Message: &msg})
	c.printf("now in %s\n", "name\x1b]52;c;ZXZpbA==\x07")
	c.errorf("%s", "bad\x9b6n")
	for what, s := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
		if r := rawControl(s); r != -1 {
			t.Errorf("%s has %U: %q", what, r, s)
		}
	}
	if !strings.Contains(out.String(), "(room") || !strings.Contains(out.String(), "evil") {
		t.Errorf("chat output lost text: %q", out.String())
	}
}
