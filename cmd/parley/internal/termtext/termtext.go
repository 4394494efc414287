package termtext

import (
	"strings"
	"unicode"
)

// Replacement is what each dropped character becomes, so that the reader
// sees that something was there.
const Replacement = '\uFFFD'

// Sanitize returns s without terminal control: tabs become spaces, newlines
// stay, and every other control character (C0, DEL, C1 — ESC, BEL, CR, CSI
// included) and every bidirectional override or isolate becomes Replacement.
func Sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r == '\n':
			return '\n'
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F:
			return Replacement
		}
		return r
	}, s)
}

// OneLine is Sanitize with newlines turned into spaces (names, list rows).
func OneLine(s string) string { return strings.ReplaceAll(Sanitize(s), "\n", " ") }
