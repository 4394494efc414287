package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebUIPolls drives polls in two web chats: A creates a poll with the
// form, B votes by clicking, A sees the count live, A closes it, B sees it
// closed.
func TestWebUIPolls(t *testing.T) {
	needChromium(t)
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	startDaemon(t, bin, "alice", homeA)
	startDaemon(t, bin, "bob", homeB)
	gid := strings.TrimSpace(mustRun(t, bin, homeA, "group", "create", "Club"))
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Club"))
	mustRun(t, bin, homeB, "group", "join", code)
	urlA := strings.TrimSpace(mustRun(t, bin, homeA, "web"))
	urlB := strings.TrimSpace(mustRun(t, bin, homeB, "web"))

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a := newBrowser(t, ctx, "A")
	b := newBrowser(t, ctx, "B")
	group := `#group-list .group[data-id="` + gid + `"]`
	for _, x := range []struct {
		br  *browser
		url string
	}{{a, urlA}, {b, urlB}} {
		x.br.do(t, "open", chromedp.Navigate(x.url), chromedp.WaitVisible(chromedp.CSS(group)))
		x.br.wait(t, "event stream", `document.getElementById('conn').dataset.state === 'online'`)
		x.br.clickWhenThere(t, "open the group", group)
		x.br.do(t, "the composer", chromedp.WaitVisible(chromedp.ID("composer-input")))
	}

	a.do(t, "open the poll form", chromedp.Click(chromedp.ID("btn-poll")), chromedp.WaitVisible(chromedp.ID("poll-question")))
	a.do(t, "fill the form", chromedp.SendKeys(chromedp.ID("poll-question"), "Lunch <b>today</b>?"),
		chromedp.SendKeys(chromedp.ID("poll-options"), "pizza\nsushi\ntacos"),
		chromedp.Click(chromedp.CSS(`#dlg-poll button[type=submit]`)))
	question := `Array.from(document.querySelectorAll('#message-list .poll-q')).some(e => e.textContent === 'Lunch <b>today</b>?')`
	a.wait(t, "the poll on A", question)
	b.wait(t, "the poll on B, live", question)
	count := func(i int) string {
		return `(document.querySelectorAll('#message-list .poll-opt .poll-count')[` + string(rune('0'+i)) + `] || {}).textContent`
	}
	b.clickWhenThere(t, "vote sushi on B", `#message-list .poll-opt:nth-child(2)`)
	b.wait(t, "B's own vote marked", `document.querySelector('#message-list .poll-opt:nth-child(2)').classList.contains('mine')`)
	a.wait(t, "A counts B's vote live", count(1)+` === '1' && `+count(0)+` === '0'`)
	b.clickWhenThere(t, "change to tacos", `#message-list .poll-opt:nth-child(3)`)
	a.wait(t, "A sees the changed vote", count(2)+` === '1' && `+count(1)+` === '0'`)
	b.wait(t, "B has no close button (not the creator)", `!document.querySelector('#message-list .poll-close')`)
	a.clickWhenThere(t, "close on A", `#message-list .poll-close`)
	b.wait(t, "B sees it closed", `!!document.querySelector('#message-list .poll.closed') && document.querySelector('#message-list .poll-opt').disabled`)
	b.screenshot(t, artifactsDir(t), "webui-poll.png")
	r := run(t, bin, homeB, "poll", "show", "Club", "--json", firstPollID(t, bin, homeB))
	if !strings.Contains(r.stdout, `"closed": true`) {
		t.Fatalf("poll show after the web chat: %s %s", r.stdout, r.stderr)
	}
	for _, br := range []*browser{a, b} {
		if p := br.problems(); len(p) > 0 {
			t.Errorf("browser %s logged errors:\n%s", br.name, strings.Join(p, "\n"))
		}
	}
}

// firstPollID is the id of the first poll in the group's history.
func firstPollID(t *testing.T, bin, home string) string {
	t.Helper()
	out := mustRun(t, bin, home, "history", "Club", "--json")
	i := strings.Index(out, `"kind": "poll"`)
	if i < 0 {
		t.Fatalf("no poll in history: %s", out)
	}
	j := strings.LastIndex(out[:i], `"id": "`)
	return out[j+7 : j+7+64]
}
