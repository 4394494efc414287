package cli

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

func TestLineChatStateText(t *testing.T) {
	lines := unreadLines([]node.GroupInfo{
		{Name: "Family", Unread: 3, Mentions: 1},
		{Name: "Quiet", Unread: 0},
		{Name: "News\x1b[31m", Unread: 12, Muted: true},
	})
	if len(lines) != 2 || !strings.Contains(lines[0], "Family: 3 unread (1 @you)") ||
		!strings.Contains(lines[1], "12 unread, muted") || strings.Contains(lines[1], "\x1b") {
		t.Fatalf("unread lines: %q", lines)
	}
	got := missingText([]node.MissingInfo{{Name: "Ana", Count: 3}, {Count: 1}})
	if got != "3 messages from Ana, 1 message not yet received" {
		t.Fatalf("missing text: %q", got)
	}
	if missingText(nil) != "" {
		t.Fatal("nothing missing should say nothing")
	}
}
