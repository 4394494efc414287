package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/node"
)

func TestSyncSummary(t *testing.T) {
	cases := []struct {
		in   []node.SyncProgress
		want string
	}{
		{nil, "-"},
		{[]node.SyncProgress{{Received: 3200, Total: 10000}}, "catching up 3200/10000"},
		{[]node.SyncProgress{{Done: true}, {Received: 1, Total: 2}, {Received: 3, Total: 4}}, "catching up 4/6"},
		{[]node.SyncProgress{{}}, "syncing"},
		{[]node.SyncProgress{{Done: true}}, "in sync"},
		{[]node.SyncProgress{{Done: true, Err: "boom"}}, "last sync failed (1)"},
	}
	for _, c := range cases {
		if got := syncSummary(c.in); got != c.want {
			t.Errorf("syncSummary(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatLine(t *testing.T) {
	ts := time.Date(2026, 1, 2, 15, 4, 0, 0, time.Local)
	m := node.Message{Author: "12D3KooWabcdefghijkl", AuthorName: "ann", Kind: "text", Text: "hi", Time: ts}
	if got := formatLine(m, "15:04", "Family"); got != "[15:04] (Family) ann: hi" {
		t.Fatalf("got %q", got)
	}
	m.AuthorName = ""
	if got := formatLine(m, "15:04", ""); got != "[15:04] "+shortID(m.Author)+": hi" {
		t.Fatalf("got %q", got)
	}
	j := node.Message{AuthorName: "ann", Kind: "join", Text: "ann", Time: ts}
	if got := formatLine(j, "15:04", ""); got != "[15:04] * ann joined" {
		t.Fatalf("join: %q", got)
	}
}

func TestNoNodeAdvice(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	var out, errb bytes.Buffer
	if code := Main([]string{"--profile", "work", "init"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("init: exit %d, stderr %q", code, errb.String())
	}
	code := Main([]string{"--profile", "work", "status"}, strings.NewReader(""), &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "`parley --profile work daemon` or `parley --profile work up`") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = Main([]string{"--log-level", "loud", "daemon"}, strings.NewReader(""), &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "--log-level") {
		t.Fatalf("bad log level: exit %d, stderr %q", code, errb.String())
	}
}
