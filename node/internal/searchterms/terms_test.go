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

// The ASCII fast path must give exactly what the general path gives.
func TestTokenizeASCIIMatchesGeneral(t *testing.T) {
	general := func(text string) []string {
		// A non-ASCII rune that is a separator forces the general path
		// without changing the terms.
		return Tokenize(text + " \u00a0")
	}
	var long strings.Builder
	for i := range 400 {
		long.WriteString(strings.Repeat("ab", 1+i%40))
		long.WriteString([]string{" ", ",", "-", "_", "\t", "'"}[i%6])
	}
	for _, in := range []string{
		"", "a", "ab", "Hello, World! hello", "x2 42 2x 00 0", "MiXeD CaSe mixed case",
		"snake_case kebab-case dot.sep slash/sep", "\x00\x01ab\x7fcd", "parley bench parley bench parl",
		strings.Repeat("x", 64) + " " + strings.Repeat("y", 65) + " ok", long.String(),
	} {
		if got, want := Tokenize(in), general(in); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, the general path gives %q", in, got, want)
		}
	}
}

func FuzzTokenizeASCII(f *testing.F) {
	f.Add("Hello, World! hello")
	f.Add("a1 B2 c3_d4")
	f.Fuzz(func(t *testing.T, in string) {
		if !isASCII(in) {
			return
		}
		if got, want := tokenizeASCII(in), Tokenize(in+" \u00a0"); !slices.Equal(got, want) {
			t.Fatalf("%q: fast %q, general %q", in, got, want)
		}
	})
}
