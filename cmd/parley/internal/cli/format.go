package cli

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/parley-chat/parley/store"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// authorName is the author's display name (on one line, safe to print),
// or a short form of the peer id.
func authorName(m node.Message) string {
	if m.AuthorName != "" {
		return termtext.OneLine(m.AuthorName)
	}
	return shortID(m.Author)
}

func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}

func messageText(m node.Message) string {
	switch m.Kind {
	case "text":
		return m.Text
	case "join":
		return "joined"
	default:
		return "(" + m.Kind + " message)"
	}
}

// formatLine renders "[time] (group) name: text" (group omitted when empty),
// safe to print: names and texts come from other members, so control
// characters are replaced (see termtext) and names stay on one line.
func formatLine(m node.Message, layout, group string) string {
	return termtext.Sanitize(formatRaw(m, layout, termtext.OneLine(group)))
}

func formatRaw(m node.Message, layout, group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] ", m.Time.Local().Format(layout))
	if group != "" {
		fmt.Fprintf(&b, "(%s) ", group)
	}
	if m.Kind == "join" {
		fmt.Fprintf(&b, "* %s joined", authorName(m))
		if m.Text != "" && m.Text != m.AuthorName {
			fmt.Fprintf(&b, " as %q", termtext.OneLine(m.Text))
		}
		return b.String()
	}
	if m.Kind == "membership" {
		fmt.Fprintf(&b, "* %s %s", authorName(m), termtext.OneLine(m.Text))
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %s", authorName(m), richText(m)) // rich.go: quote, edited, deleted, reactions
	return b.String()
}

// clip shortens s to n characters on one line, safe to print.
func clip(s string, n int) string {
	s = termtext.OneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func latency(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", ms)
}

// syncSummary renders sync progress: "catching up 3200/10000", "in sync", or
// "-" when nothing was synced yet.
func syncSummary(ps []node.SyncProgress) string {
	if len(ps) == 0 {
		return "-"
	}
	var recv, total uint64
	running, failed := 0, 0
	for _, p := range ps {
		if !p.Done {
			running++
			recv += p.Received
			total += p.Total
		} else if p.Err != "" {
			failed++
		}
	}
	switch {
	case running > 0 && total > 0:
		return fmt.Sprintf("catching up %d/%d", recv, total)
	case running > 0:
		return "syncing"
	case failed > 0:
		return fmt.Sprintf("last sync failed (%d)", failed)
	}
	return "in sync"
}

func drops(d map[string]uint64) string {
	if len(d) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, d[k])
	}
	return strings.Join(parts, ", ")
}

// diskLine is status's line on free space: a warning when low, an error
// when full; nothing for an in-memory store.
func diskLine(d store.DiskSpace) string {
	switch {
	case d.Free < 0:
		return ""
	case d.Full:
		return fmt.Sprintf("disk:     FULL (%s free, %s kept in reserve): new messages and files are refused until space is freed",
			mib(d.Free), mib(d.Reserve))
	case d.Low:
		return fmt.Sprintf("disk:     low: %s free (writes stop below %s)", mib(d.Free), mib(d.Reserve))
	}
	return fmt.Sprintf("disk:     %s free", mib(d.Free))
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
