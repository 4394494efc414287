package searchterms

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Bounds on terms: shorter ones match too much to be worth a posting (a
// single CJK character is 3 bytes and kept), longer ones are rarely typed.
const (
	MinLen = 2
	MaxLen = store.MaxTermLen
	// MaxPerMessage caps one message's postings (distinct terms, first
	// come first kept).
	MaxPerMessage = 200
)

// Tokenize returns the distinct terms of text in order of appearance:
// NFKC-normalised (so a decomposed "é", a full-width "ａ" or a ligature
// match what people type), lower-cased, split at every rune that is not a
// letter, digit or combining mark.
func Tokenize(text string) []string {
	if isASCII(text) {
		return tokenizeASCII(text)
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	text = strings.ToLower(norm.NFKC.String(text))
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	}) {
		if len(w) < MinLen || len(w) > MaxLen || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == MaxPerMessage {
			break
		}
	}
	return out
}

// tokenizeASCII is Tokenize for pure ASCII, where NFKC changes nothing and
// a letter or digit is [A-Za-z0-9]: one pass, one lowered copy. Every
// received text is tokenized on the receive path, most of them ASCII.
func tokenizeASCII(text string) []string {
	lower := []byte(text)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	all := string(lower)
	var out []string
	var seen map[string]bool // past a few terms; a short list is scanned
	start := -1
	for i := 0; i <= len(all); i++ {
		if i < len(all) && isAlnum(all[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		w := all[start:i]
		start = -1
		if len(w) < MinLen || len(w) > MaxLen {
			continue
		}
		if seen == nil && len(out) >= 8 {
			seen = make(map[string]bool, 2*len(out))
			for _, o := range out {
				seen[o] = true
			}
		}
		if seen != nil && seen[w] || seen == nil && slices.Contains(out, w) {
			continue
		}
		if seen != nil {
			seen[w] = true
		}
		out = append(out, w)
		if len(out) == MaxPerMessage {
			break
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// ForBody is what the index keeps for a message body: its terms, and for an
// edit the message they show (the edit's target), else zero. Text, a poll's
// question and options, an edit's new text and a file's name are indexed;
// other kinds have no terms.
// Indexed reports whether ForBody may find words in b: a body of another
// kind (a reaction, a vote, a join) has none to index.
func Indexed(b *wirepb.Body) bool {
	switch b.GetKind().(type) {
	case *wirepb.Body_Text, *wirepb.Body_Poll, *wirepb.Body_Edit, *wirepb.Body_File:
		return true
	}
	return false
}

func ForBody(b *wirepb.Body) (terms []string, of store.MessageID) {
	switch k := b.GetKind().(type) {
	case *wirepb.Body_Text:
		return Tokenize(k.Text.GetText()), of
	case *wirepb.Body_Poll:
		return Tokenize(k.Poll.GetQuestion() + "\n" + strings.Join(k.Poll.GetOptions(), "\n")), of
	case *wirepb.Body_Edit:
		if len(k.Edit.GetTarget()) == store.MessageIDLen {
			copy(of[:], k.Edit.GetTarget())
			return Tokenize(k.Edit.GetText()), of
		}
	case *wirepb.Body_File:
		return Tokenize(k.File.GetName()), of
	}
	return nil, of
}
