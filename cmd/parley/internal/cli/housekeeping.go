package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/node"
)

// historyPage is how many messages one request of `history --all` reads.
var historyPage = 1000

// historyOpts are the history flags beyond one page: --all and --around.
type historyOpts struct {
	all    bool
	around string
}

func (x *historyOpts) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&x.all, "all", false, "print the whole history (pages through it)")
	cmd.Flags().StringVar(&x.around, "around", "", "print message ID with --limit messages before and after it (a search result in context)")
	cmd.MarkFlagsMutuallyExclusive("all", "around")
}

// paged: the output is one page, so a hint for the next one makes sense.
func (x *historyOpts) paged() bool { return !x.all && x.around == "" }

// read is one page of history, the whole history from before on (--all),
// or the messages around one (--around).
func (x *historyOpts) read(ctx context.Context, r reader, group, before string, limit int) ([]node.Message, error) {
	switch {
	case x.around != "":
		if before != "" {
			return nil, fmt.Errorf("%w: --around and --before do not go together", node.ErrInvalidInput)
		}
		return r.HistoryAround(ctx, group, x.around, limit)
	case !x.all:
		return r.History(ctx, group, before, limit)
	}
	var pages [][]node.Message
	for {
		ms, err := r.History(ctx, group, before, historyPage)
		if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			pages = append(pages, ms)
			before = ms[0].Cursor
		}
		if len(ms) < historyPage {
			break
		}
	}
	slices.Reverse(pages) // pages came newest first; each is oldest first
	return slices.Concat(pages...), nil
}

// tailSince prepares `tail --since`: backlog prints the messages since then
// (call it once the event stream is open, so nothing falls between the
// two), and seen tells the stream which of them it need not print again.
func (a *app) tailSince(ctx context.Context, c *api.Client, group, since string) (backlog func(), seen func(id string) bool, err error) {
	printed := map[string]bool{}
	seen = func(id string) bool { return printed[id] }
	if since == "" {
		return func() {}, seen, nil
	}
	from, err := parseSince(since, time.Now())
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Group(ctx, group); err != nil { // fail before following
		return nil, nil, err
	}
	backlog = func() {
		var pages [][]node.Message
		before := ""
		for {
			ms, err := c.History(ctx, group, before, historyPage)
			if err != nil {
				fmt.Fprintf(a.stderr, "(history: %v)\n", err)
				return
			}
			i := len(ms)
			for i > 0 && !ms[i-1].Time.Before(from) {
				i--
			}
			pages = append(pages, ms[i:])
			if i > 0 || len(ms) < historyPage {
				break
			}
			before = ms[0].Cursor
		}
		slices.Reverse(pages)
		for _, m := range slices.Concat(pages...) {
			printed[m.ID] = true
			fmt.Fprintln(a.stdout, formatLine(m, "2006-01-02 15:04", ""))
		}
	}
	return backlog, seen, nil
}

// parseSince reads --since: a duration back from now ("90s", "10m", "2h",
// "3d"), an RFC 3339 time, a local "2006-01-02 15:04", "2006-01-02", or a
// time of day "15:04" (today, or yesterday when that is still to come).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == d {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("15:04", s, now.Location()); err == nil {
		day := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
		if day.After(now) {
			day = day.AddDate(0, 0, -1)
		}
		return day, nil
	}
	return time.Time{}, fmt.Errorf("%w: --since %q: give a duration (10m, 2h, 3d) or a time (2006-01-02 15:04, 15:04, RFC 3339)",
		node.ErrInvalidInput, s)
}
