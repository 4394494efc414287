package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestHostileTextIsSanitised sends a text and a display name full of
// terminal controls (CSI and OSC sequences, BEL, CR, C1 controls) and checks
// that history (through the API and from the store) and tail print none of
// them raw.
func TestHostileTextIsSanitised(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()
	const hostile = "hi\x1b[2J\x1b]0;pwned\x07\rX\u009b31m\u0085end"
	d := startDaemon(t, bin, "mal\x1b[31mlory", home)
	mustRun(t, bin, home, "group", "create", "Room")

	tail := startBackground(t, bin, home, nil, "tail", "Room")
	poll(t, 30*time.Second, "tail to subscribe", func() (bool, string) {
		return strings.Contains(tail.stderr.String(), "(following Room"), tail.stderr.String()
	})
	mustRun(t, bin, home, "send", "Room", hostile)
	poll(t, 30*time.Second, "tail output", func() (bool, string) {
		return strings.Contains(tail.stdout.String(), "end"), tail.stdout.String()
	})
	tail.signal(t, os.Interrupt)

	check := func(what, out string) {
		t.Helper()
		if !strings.Contains(out, "hi") || !strings.Contains(out, "end") {
			t.Fatalf("%s lost the text: %q", what, out)
		}
		for _, r := range out {
			if r != '\n' && (r < 0x20 || (r >= 0x7f && r <= 0x9f)) {
				t.Fatalf("%s printed control %U raw: %q", what, r, out)
			}
		}
	}
	check("tail", tail.stdout.String())
	check("history via the API", mustRun(t, bin, home, "history", "Room"))
	d.stop(t)
	check("history from the store", mustRun(t, bin, home, "history", "Room"))
}
