package termtext

import (
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	in := "a\x1b[31mred\x1b]0;title\x07\r\x9b2J\x85\u202eevil\u2066x\u200f\x7f\tb\nc"
	got := Sanitize(in)
	for _, r := range got {
		if r == '\n' {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200f {
			t.Fatalf("Sanitize left %U in %q", r, got)
		}
	}
	if !strings.Contains(got, "red") || !strings.Contains(got, " b\nc") {
		t.Fatalf("Sanitize lost text: %q", got)
	}
	if n := strings.Count(got, string(Replacement)); n != 10 {
		t.Fatalf("want 10 replacements, got %d in %q", n, got)
	}
	if one := OneLine("a\nb\x1b"); one != "a b\uFFFD" {
		t.Fatalf("OneLine: %q", one)
	}
	if s := "héllo, 世界 👋"; Sanitize(s) != s {
		t.Fatalf("Sanitize changed plain text: %q", Sanitize(s))
	}
}
