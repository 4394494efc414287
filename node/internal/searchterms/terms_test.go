package searchterms

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node/wirepb"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello, World! hello", []string{"hello", "world"}},
		{"Cafe\u0301 CAFÉ café", []string{"café"}},            // decomposed, upper and composed fold together
		{"ｆｕｌｌ width ﬁne", []string{"full", "width", "fine"}}, // NFKC
		{"a b c do it", []string{"do", "it"}},                 // under 2 bytes dropped
		{"日本語 の テキスト", []string{"日本語", "の", "テキスト"}},
		{"Straße über-all x2 42", []string{"straße", "über", "all", "x2", "42"}},
		{"ПРИВЕТ мир", []string{"привет", "мир"}},
		{strings.Repeat("x", 65) + " ok", []string{"ok"}},
		{"", nil},
	} {
		if got := Tokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var many strings.Builder
	for i := range 500 {
		many.WriteString(strings.Repeat("w", 2+i%50))
		many.WriteByte(byte('a' + i%26))
		many.WriteByte(' ')
	}
	if n := len(Tokenize(many.String())); n != MaxPerMessage {
		t.Fatalf("%d terms, want the cap %d", n, MaxPerMessage)
	}
}

func TestForBody(t *testing.T) {
	target := make([]byte, 32)
	target[0] = 7
	terms, of := ForBody(&wirepb.Body{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: target, Text: "New text"}}})
	if !slices.Equal(terms, []string{"new", "text"}) || of[0] != 7 {
		t.Fatalf("edit: %q %x", terms, of[:2])
	}
	terms, of = ForBody(&wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: "Lunch where?", Options: []string{"Pizza", "Sushi bar"}}}})
	if !slices.Equal(terms, []string{"lunch", "where", "pizza", "sushi", "bar"}) || of != [32]byte{} {
		t.Fatalf("poll: %q", terms)
	}
	if terms, _ := ForBody(&wirepb.Body{Kind: &wirepb.Body_Reaction{Reaction: &wirepb.Reaction{Target: target, Emoji: "👍"}}}); terms != nil {
		t.Fatalf("reaction indexed: %q", terms)
	}
}
