package tui

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var (
	headerStyle   = lipgloss.NewStyle().Reverse(true)
	dimStyle      = lipgloss.NewStyle().Faint(true)
	boldStyle     = lipgloss.NewStyle().Bold(true)
	selStyle      = lipgloss.NewStyle().Reverse(true)
	errStyle      = lipgloss.NewStyle().Foreground(lipgloss.ANSIColor(9)).Bold(true)
	okStyle       = lipgloss.NewStyle().Foreground(lipgloss.ANSIColor(10))
	warnStyle     = lipgloss.NewStyle().Foreground(lipgloss.ANSIColor(11))
	unreadStyle   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.ANSIColor(11))
	qrStyle       = lipgloss.NewStyle().Foreground(lipgloss.ANSIColor(15)).Background(lipgloss.ANSIColor(0))
	nameColors    = []lipgloss.ANSIColor{12, 13, 14, 10, 11, 9, 6, 5, 4, 3}
	dayLineMarker = "──"
)

// Layout constants.
const (
	sidebarMinWidth = 60 // no group list below this terminal width
	indent          = 6  // continuation lines of a message
)

// layout sizes the input to the terminal.
func (m *Model) layout() {
	m.input.Width = max(1, m.width-len(m.input.Prompt)-1)
}

func (m *Model) sidebarWidth() int {
	if m.width < sidebarMinWidth {
		return 0
	}
	return min(24, max(14, m.width/5))
}

func (m *Model) paneWidth() int {
	sw := m.sidebarWidth()
	if sw > 0 {
		return max(1, m.width-sw-2)
	}
	return max(1, m.width)
}

// paneHeight is the number of message rows: all but header, status and input.
func (m *Model) paneHeight() int { return max(1, m.height-3) }

func authorName(msg node.Message) string {
	if msg.AuthorName != "" {
		return ansi.Truncate(termtext.OneLine(msg.AuthorName), 20, "…")
	}
	return shortID(msg.Author)
}

func nameStyle(id string) lipgloss.Style {
	h := fnv.New32a()
	h.Write([]byte(id))
	return lipgloss.NewStyle().Bold(true).Foreground(nameColors[h.Sum32()%uint32(len(nameColors))])
}

// day is the entry's local date, for day separators (cached).
func day(e *entry) string {
	if e.day == "" {
		e.day = e.msg.Time.Local().Format("Mon 2 Jan 2006")
	}
	return e.day
}

// entryLines renders entry i of g at the pane width, cached.
func (m *Model) entryLines(g *groupView, i int) []string {
	e := g.entries[i]
	w := m.paneWidth()
	prevDay := ""
	if i > 0 {
		prevDay = day(g.entries[i-1])
	} else if !g.atStart {
		prevDay = day(e) // unknown: no separator until the older page loads
	}
	if e.cached != nil && e.cacheW == w && e.cacheD == prevDay {
		return e.cached
	}
	var lines []string
	if d := day(e); d != prevDay {
		sep := ansi.Truncate(dayLineMarker+" "+d+" "+strings.Repeat("─", w), w, "")
		lines = append(lines, dimStyle.Render(sep))
	}
	m.number(g, e)
	if pl := m.pollLines(e, w); pl != nil {
		lines = append(lines, pl...)
	} else {
		lines = append(lines, renderMessage(e, w)...)
	}
	e.cached, e.cacheW, e.cacheD = lines, w, prevDay
	return lines
}

func renderMessage(e *entry, w int) []string {
	msg := e.msg
	tm := msg.Time.Local().Format("15:04") + numTag(e) // rich.go: " #N"
	name := authorName(msg)
	var prefix, body string
	switch msg.Kind {
	case "text":
		prefix, body = tm+" "+name+": ", termtext.Sanitize(msg.Text)
	case "file":
		prefix, body = tm+" "+name+": ", fileBody(msg) // files.go
	case "join":
		prefix, body = tm+" * "+name+" joined", ""
		if msg.Text != "" && msg.Text != msg.AuthorName {
			body = " as " + termtext.OneLine(msg.Text)
		}
	case "membership":
		prefix, body = tm+" * "+name+" ", termtext.OneLine(msg.Text)
	default:
		prefix, body = tm+" "+name+": ", "("+msg.Kind+" message)"
	}
	body = richBody(e, body) // rich.go: quote, edited, deleted, reactions, #N
	mark := ""
	if e.own && msg.Kind == "text" {
		switch {
		case e.failed != "":
			mark = " ✗ not sent: " + e.failed
		case e.pending:
			mark = " …"
		case e.queued:
			mark = " ◷"
		default:
			mark = deliveryMark(e)
		}
	}
	lines := wrap(prefix+body+mark, w, max(1, w-indent))
	for i := 1; i < len(lines); i++ {
		if w > indent {
			lines[i] = strings.Repeat(" ", indent) + lines[i]
		}
	}
	// Style: dim time, coloured name, dim delivery mark.
	if len(lines) > 0 && strings.HasPrefix(lines[0], tm+" ") {
		rest := lines[0][len(tm)+1:]
		styled := dimStyle.Render(tm) + " "
		nm := name
		if msg.Kind == "join" {
			nm = "* " + name
		}
		if strings.HasPrefix(rest, nm) {
			st := nameStyle(msg.Author)
			if msg.Kind == "join" {
				st = dimStyle
			}
			styled += st.Render(nm)
			rest = rest[len(nm):]
		}
		lines[0] = styled + rest
	}
	if mark != "" {
		last := lines[len(lines)-1]
		if strings.HasSuffix(last, mark) {
			st := dimStyle
			if e.failed != "" {
				st = errStyle
			}
			lines[len(lines)-1] = strings.TrimSuffix(last, mark) + st.Render(mark)
		}
	}
	return lines
}

// wrap breaks s into lines of at most first (then rest) cells, at spaces
// where possible.
func wrap(s string, first, rest int) []string {
	var out []string
	limit := first
	for _, para := range strings.Split(s, "\n") {
		var cur strings.Builder
		curW := 0
		flush := func() {
			out = append(out, cur.String())
			cur.Reset()
			curW = 0
			limit = rest
		}
		if lead := len(para) - len(strings.TrimLeft(para, " ")); lead > 0 && lead < limit {
			cur.WriteString(para[:lead])
			curW, para = lead, para[lead:]
		}
		words := strings.Split(para, " ")
		for wi, word := range words {
			ww := ansi.StringWidth(word)
			sep := 0
			if wi > 0 && curW > 0 {
				sep = 1
			}
			if wi == 0 {
				sep = 0
			}
			if curW+sep+ww <= limit {
				if sep == 1 {
					cur.WriteByte(' ')
				}
				cur.WriteString(word)
				curW += sep + ww
				continue
			}
			if curW > 0 {
				flush()
			}
			for ansi.StringWidth(word) > limit {
				part := ansi.Truncate(word, limit, "")
				if part == "" { // a character wider than the line
					part = string([]rune(word)[:1])
				}
				cur.WriteString(part)
				word = word[len(part):]
				flush()
			}
			cur.WriteString(word)
			curW = ansi.StringWidth(word)
		}
		flush()
	}
	return out
}

// countLines counts the lines of the newest entries, stopping at need.
func (m *Model) countLines(g *groupView, need int) int {
	n := 0
	for i := len(g.entries) - 1; i >= 0 && n < need; i-- {
		n += len(m.entryLines(g, i))
	}
	return n
}

// paneLines returns up to h visible lines of g at its scroll position,
// walking back from the newest message: the cost is the scroll distance in
// cached line counts plus the visible lines, never the whole history.
func (m *Model) paneLines(g *groupView, h int) []string {
	out := make([]string, 0, h) // bottom up
	skip := g.scroll
	take := func(l string) {
		if skip > 0 {
			skip--
		} else if len(out) < h {
			out = append(out, l)
		}
	}
	i := len(g.entries) - 1
	for ; i >= 0 && len(out) < h; i-- {
		ls := m.entryLines(g, i)
		if skip >= len(ls) {
			skip -= len(ls)
			continue
		}
		for j := len(ls) - 1; j >= 0 && len(out) < h; j-- {
			take(ls[j])
		}
	}
	if i < 0 && len(out) < h {
		switch {
		case g.loading:
			take(dimStyle.Render("loading older messages…"))
		case g.loadErr != "":
			take(errStyle.Render("history: " + g.loadErr))
		case g.atStart && g.info.HistoryFromJoin:
			take(dimStyle.Render("(history starts at your join)"))
		case g.atStart:
			take(dimStyle.Render("(start of " + termtext.OneLine(g.info.Name) + ")"))
		}
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

// fit truncates or pads s (which may hold styles) to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if sw := ansi.StringWidth(s); sw > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// View renders the whole screen: exactly height lines of width cells.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	if m.modal != nil && m.modal.kind == modalInvite && m.modal.showQR {
		return strings.Join(m.qrScreen(), "\n")
	}
	rows := make([]string, 0, m.height)
	rows = append(rows, m.headerView())
	if m.modal != nil {
		rows = append(rows, m.modalView(m.height-1)...)
	} else {
		rows = append(rows, m.bodyView()...)
		rows = append(rows, m.statusView(), fit(m.input.View(), m.width))
	}
	if len(rows) > m.height {
		rows = rows[:m.height]
	}
	return strings.Join(rows, "\n")
}

func (m *Model) connView() string {
	n := len(m.peers)
	switch n {
	case 0:
		return warnStyle.Render("○") + " offline"
	case 1:
		return okStyle.Render("●") + " 1 peer"
	}
	return okStyle.Render("●") + fmt.Sprintf(" %d peers", n)
}

func (m *Model) headerView() string {
	right := " " + m.connView() + " "
	if m.width >= 50 {
		who := m.opts.Profile
		if m.opts.Name != "" {
			who = termtext.OneLine(m.opts.Name) + "@" + who
		}
		right = " " + ansi.Truncate(who, 24, "…") + " │" + right
	}
	left := " parley"
	if g := m.current(); g != nil {
		left = fmt.Sprintf(" # %s · %s", termtext.OneLine(g.info.Name), plural(g.info.Members, "member"))
		if m.sidebarWidth() == 0 && len(m.groups) > 1 {
			left += fmt.Sprintf(" (%d/%d)", m.cur+1, len(m.groups))
		}
	}
	lw := max(0, m.width-ansi.StringWidth(right))
	if lw == 0 {
		return headerStyle.Render(fit(right, m.width))
	}
	return headerStyle.Render(fit(left, lw) + right)
}

func (m *Model) bodyView() []string {
	h := m.paneHeight()
	if m.height < 3 {
		h = max(0, m.height-1)
	}
	pw := m.paneWidth()
	var pane []string
	if g := m.current(); g != nil {
		pane = m.paneLines(g, h)
	} else {
		pane = []string{
			"",
			" Welcome to parley. You have no groups yet.",
			"",
			"   /create NAME   start a group",
			"   /join CODE     join with an invite code",
			"   /help          all commands and keys",
		}
	}
	var side []string
	sw := m.sidebarWidth()
	if sw > 0 {
		side = m.sidebarLines(sw, h)
	}
	rows := make([]string, h)
	// Bottom-align the pane when it has fewer lines than rows.
	off := 0
	if m.current() != nil && len(pane) < h {
		off = h - len(pane)
	}
	for i := 0; i < h; i++ {
		p := ""
		if j := i - off; j >= 0 && j < len(pane) {
			p = pane[j]
		}
		if sw > 0 {
			s := ""
			if i < len(side) {
				s = side[i]
			}
			rows[i] = fit(s, sw) + dimStyle.Render("│") + " " + fit(p, pw)
		} else {
			rows[i] = fit(p, pw)
		}
	}
	return rows
}

func (m *Model) sidebarLines(w, h int) []string {
	lines := []string{boldStyle.Render(fit(" Groups", w))}
	if len(m.groups) == 0 {
		return append(lines, dimStyle.Render(fit(" (none)", w)))
	}
	avail := max(1, h-1)
	first := 0
	if m.cur >= avail {
		first = m.cur - avail + 1
	}
	for i := first; i < len(m.groups) && len(lines) < h; i++ {
		g := m.groups[i]
		badge, bst := groupBadge(g)
		name := fit(" "+groupLabel(g.info), max(1, w-ansi.StringWidth(badge)-1))
		row := name + bst.Render(badge) + " "
		if i == m.cur {
			row = selStyle.Render(name + badge + " ")
		}
		lines = append(lines, fit(row, w))
	}
	return lines
}

// syncView summarises running history pulls.
func (m *Model) syncView() string {
	if len(m.syncs) == 0 {
		return ""
	}
	var recv, total uint64
	peers := map[string]bool{}
	for _, sp := range m.syncs {
		recv += sp.Received
		total += sp.Total
		peers[sp.Peer] = true
	}
	from := ""
	if len(peers) == 1 {
		for p := range peers {
			from = " from " + shortID(p)
		}
	} else {
		from = fmt.Sprintf(" from %d peers", len(peers))
	}
	if total == 0 {
		return "⟳ syncing" + from
	}
	s := fmt.Sprintf("⟳ catching up %s/%s%s", thousands(recv), thousands(total), from)
	if m.width >= 70 {
		const bw = 10
		done := int(float64(bw) * float64(recv) / float64(total))
		done = min(bw, max(0, done))
		s += " " + strings.Repeat("█", done) + strings.Repeat("░", bw-done)
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func thousands(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (m *Model) statusView() string {
	right := m.syncView()
	if c := m.byteCounter(); c != "" {
		right = c // typing near the limit: the count matters more than sync
	}
	var left string
	g := m.current()
	switch {
	case m.busy != "":
		left = warnStyle.Render("⟳ " + m.busy)
	case m.notice != "" && m.isErr:
		left = errStyle.Render(termtext.OneLine(m.notice))
	case m.notice != "":
		left = termtext.OneLine(m.notice)
	case g != nil && g.scroll > 0 && g.newBelow > 0:
		left = warnStyle.Render(fmt.Sprintf("↓ %d new · esc to jump down", g.newBelow))
	case g != nil && len(g.info.Missing) > 0:
		left = warnStyle.Render(termtext.OneLine(missingText(g.info.Missing)))
	case g != nil && g.scroll > 0:
		left = dimStyle.Render("scrolled up · pgdn/esc to return")
	default:
		left = dimStyle.Render("ctrl+n/p groups · pgup history · /help")
	}
	if right == "" {
		return fit(" "+left, m.width)
	}
	rw := ansi.StringWidth(right) + 1
	if rw >= m.width {
		return fit(right, m.width)
	}
	return fit(" "+left, m.width-rw) + fit(right, rw-1) + " "
}

// modalView renders the open panel in h rows.
func (m *Model) modalView(h int) []string {
	md := m.modal
	w := m.width
	var lines []string
	footer := "esc close · ↑/↓ scroll"
	title := md.title
	switch md.kind {
	case modalInvite:
		lines, footer = m.inviteLines(w)
	default:
		for _, l := range md.lines {
			for _, wl := range wrap(termtext.Sanitize(l), w-1, w-1) {
				lines = append(lines, " "+wl)
			}
		}
	}
	body := max(0, h-2)
	if md.offset > max(0, len(lines)-body) {
		md.offset = max(0, len(lines)-body)
	}
	rows := []string{boldStyle.Render(fit(" "+termtext.OneLine(title), w))}
	for i := 0; i < body; i++ {
		j := md.offset + i
		if j < len(lines) {
			rows = append(rows, fit(lines[j], w))
		} else {
			rows = append(rows, fit("", w))
		}
	}
	more := ""
	if md.offset+body < len(lines) {
		more = " · more below"
	}
	rows = append(rows, dimStyle.Render(fit(" "+footer+more, w)))
	if len(rows) > h {
		rows = rows[:max(0, h)]
	}
	return rows
}
