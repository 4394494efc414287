package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// run evaluates js once in the page (through the bounded poll).
func (b *browser) run(t *testing.T, what, js string) {
	t.Helper()
	b.wait(t, what, `(() => { `+js+`; return true; })()`)
}

// msgLi is a JS expression: the list item of the message with this id.
func msgLi(id string) string {
	return `document.querySelector('#message-list li[data-id="` + id + `"]')`
}

// TestWebUIRich drives the web chat's replies, reactions, edits and
// deletes in headless Chromium, checked against the CLI's history --json
// and the other page (live update events).
func TestWebUIRich(t *testing.T) {
	needChromium(t)
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	startDaemon(t, bin, "alice", homeA)
	startDaemon(t, bin, "bob", homeB)
	gid := strings.TrimSpace(mustRun(t, bin, homeA, "group", "create", "Family"))
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Family"))
	mustRun(t, bin, homeB, "group", "join", code)
	id1 := strings.TrimSpace(mustRun(t, bin, homeA, "send", "Family", "hello web"))
	history := func(home string) map[string]e2eRichMsg {
		var ms []e2eRichMsg
		_ = json.Unmarshal([]byte(mustRun(t, bin, home, "history", "Family", "--json")), &ms)
		out := map[string]e2eRichMsg{}
		for _, m := range ms {
			out[m.ID] = m
		}
		return out
	}
	poll(t, 30*time.Second, "bob to hold the message", func() (bool, string) {
		_, ok := history(homeB)[id1]
		return ok, ""
	})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a := newBrowser(t, ctx, "A")
	b := newBrowser(t, ctx, "B")
	group := `#group-list .group[data-id="` + gid + `"]`
	for _, x := range []struct {
		br   *browser
		home string
	}{{a, homeA}, {b, homeB}} {
		u := strings.TrimSpace(mustRun(t, bin, x.home, "web"))
		x.br.do(t, "open", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(group)))
		x.br.wait(t, "event stream", `document.getElementById('conn').dataset.state === 'online'`)
		x.br.clickWhenThere(t, "open the group", group)
		x.br.do(t, "the composer", chromedp.WaitVisible(chromedp.ID("composer-input")))
		x.br.wait(t, "the message", msgLi(id1)+` !== null`)
	}

	// B replies (the reply bar shows the quote) and reacts.
	b.run(t, "click reply", msgLi(id1)+`.querySelector('button[aria-label="Reply"]').click()`)
	b.wait(t, "reply bar", `!document.getElementById('reply-bar').hidden && document.getElementById('reply-bar').textContent.includes('hello web')`)
	b.do(t, "type the reply", chromedp.SendKeys(chromedp.ID("composer-input"), "web reply"), chromedp.Click(chromedp.ID("btn-send")))
	b.run(t, "react", msgLi(id1)+`.querySelector('button[aria-label="React 👍"]').click()`)
	poll(t, 30*time.Second, "reply and reaction on A's node", func() (bool, string) {
		for _, m := range history(homeA) {
			if m.ReplyTo == id1 && m.Text == "web reply" {
				r := history(homeA)[id1].Reactions
				return len(r) == 1 && r[0].Emoji == "👍" && r[0].Count == 1, ""
			}
		}
		return false, ""
	})
	a.wait(t, "quote on A", `Array.from(document.querySelectorAll('#message-list .quote')).some(e => e.textContent.includes('hello web'))`)
	a.wait(t, "reaction count on A (update event)", msgLi(id1)+`.querySelector('.reactions').textContent.includes('👍 1')`)
	b.wait(t, "B's own reaction marked", msgLi(id1)+`.querySelector('.reactions .mine') !== null`)
	// B may not edit or delete A's message: no such buttons.
	b.wait(t, "no edit/delete for others' messages", msgLi(id1)+`.querySelector('button[aria-label="Edit"], button[aria-label="Delete"]') === null`)

	// A edits, then deletes.
	a.run(t, "edit", `window.prompt = () => 'hello edited'; `+msgLi(id1)+`.querySelector('button[aria-label="Edit"]').click()`)
	b.wait(t, "edit on B", msgLi(id1)+`.querySelector('.bubble').textContent.startsWith('hello edited') && `+msgLi(id1)+`.querySelector('.edited') !== null`)
	a.run(t, "delete", `window.confirm = () => true; `+msgLi(id1)+`.querySelector('button[aria-label="Delete"]').click()`)
	b.wait(t, "deletion on B", msgLi(id1)+`.classList.contains('deleted') && `+msgLi(id1)+`.querySelector('.bubble').textContent === 'Message deleted'`)
	if m := history(homeB)[id1]; !m.Deleted || m.Text != "" {
		t.Fatalf("B's node: %+v", m)
	}
	for _, br := range []*browser{a, b} {
		if p := br.problems(); len(p) > 0 {
			t.Errorf("browser %s logged errors:\n%s", br.name, strings.Join(p, "\n"))
		}
	}
}
