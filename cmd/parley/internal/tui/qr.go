package tui

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
)

// The light margin drawn around the code, in modules. The standard asks
// for 4; phone scanners read 2 (even 1) fine, and rows are scarce.
const (
	qrQuiet    = 2
	qrQuietMin = 1
)

// qrBitmap encodes code as a QR code (true: dark module), without a quiet
// zone. Invite codes are base32, so the upper-case form uses the denser
// alphanumeric mode; parley accepts both cases.
func qrBitmap(code string) ([][]bool, error) {
	q, err := qrcode.New(strings.ToUpper(code), qrcode.Low)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// withQuiet adds a light margin of quiet modules, and a light row at the
// bottom if needed for an even number of rows.
func withQuiet(bm [][]bool, quiet int) [][]bool {
	n := len(bm)
	rows := n + 2*quiet
	if rows%2 == 1 {
		rows++
	}
	out := make([][]bool, rows)
	for y := range out {
		out[y] = make([]bool, n+2*quiet)
		if sy := y - quiet; sy >= 0 && sy < n {
			copy(out[y][quiet:], bm[sy])
		}
	}
	return out
}

// qrLines draws a bitmap with half blocks: one character cell holds two
// modules stacked, which keeps modules square in a usual terminal font.
// Light modules are drawn (white on black), so the code reads correctly on
// dark and light terminals alike.
func qrLines(bm [][]bool) []string {
	var out []string
	for y := 0; y+1 < len(bm); y += 2 {
		var b strings.Builder
		for x := range bm[y] {
			top, bot := !bm[y][x], !bm[y+1][x] // light?
			switch {
			case top && bot:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bot:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		out = append(out, qrStyle.Render(b.String()))
	}
	return out
}

func (m *Model) showInvite(group, code string) {
	md := &modal{kind: modalInvite, title: "Invite to " + termtext.OneLine(group), code: code, group: group}
	if bm, err := qrBitmap(code); err != nil {
		md.qrErr = err.Error()
	} else {
		md.qr = bm
	}
	m.modal = md
}

// inviteLines renders the code page of the invite panel at width w (tab
// shows the QR page, see qrScreen).
func (m *Model) inviteLines(w int) ([]string, string) {
	md := m.modal
	var lines []string
	say := func(s string) {
		for _, l := range wrap(s, max(1, w-1), max(1, w-1)) {
			lines = append(lines, " "+l)
		}
	}
	say("Anyone with this code can read and join " + termtext.OneLine(md.group) + ": share it privately.")
	lines = append(lines, "")
	// Hard-wrapped: /join ignores line breaks and spaces in a pasted code.
	for c := md.code; c != ""; {
		n := min(len(c), max(1, w-2))
		lines = append(lines, " "+c[:n])
		c = c[n:]
	}
	lines = append(lines, "")
	say("The other side runs /join CODE (or `parley group join CODE`). tab shows it as a QR code.")
	return lines, "tab QR code · esc close · ↑/↓ scroll"
}

// qrScreen renders the invite's QR page on the whole screen, dropping the
// title, footer and some quiet zone when rows are short (80x24 fits a
// typical loopback invite).
func (m *Model) qrScreen() []string {
	md := m.modal
	w, h := m.width, m.height
	title := fit(boldStyle.Render(" Invite to "+termtext.OneLine(md.group)+" — scan with the other device"), w)
	footer := dimStyle.Render(fit(" tab code text · esc close", w))
	if md.qr == nil {
		return pad([]string{title, fit(" no QR code: "+md.qrErr, w)}, h, w, footer)
	}
	for _, quiet := range []int{qrQuiet, qrQuietMin} {
		bm := withQuiet(md.qr, quiet)
		qw, qh := len(bm[0]), len(bm)/2
		if qw > w {
			continue
		}
		var rows []string
		switch {
		case qh+2 <= h:
			rows = append(rows, title)
		case qh+1 <= h:
		default:
			continue
		}
		left := strings.Repeat(" ", (w-qw)/2)
		for _, l := range qrLines(bm) {
			rows = append(rows, left+l+strings.Repeat(" ", w-qw-len(left)))
		}
		return pad(rows, h, w, footer)
	}
	bm := withQuiet(md.qr, qrQuietMin)
	msg := wrap(fmt.Sprintf("The QR code needs %d×%d cells; this terminal is %d×%d. Enlarge the window or make the font smaller, or share the code text (tab).",
		len(bm[0]), len(bm)/2, w, h), w-1, w-1)
	rows := []string{title}
	for _, l := range msg {
		rows = append(rows, fit(" "+l, w))
	}
	return pad(rows, h, w, footer)
}

// pad fills rows to h lines of width w, the last one footer (if it fits).
func pad(rows []string, h, w int, footer string) []string {
	for len(rows) < h-1 {
		rows = append(rows, strings.Repeat(" ", w))
	}
	if len(rows) < h {
		rows = append(rows, footer)
	}
	return rows[:min(len(rows), max(0, h))]
}
