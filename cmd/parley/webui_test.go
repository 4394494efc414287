package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium. Without it the browser test skips,
// except in CI (CI=true), where it fails: CI must run it.
const chromiumPath = "/usr/bin/chromium"

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (%v): install Debian's chromium package (.ci/run does)", chromiumPath, err)
		}
		t.Skipf("browser test skipped: %s not found (apt-get install chromium to run it; with CI=true this fails instead)", chromiumPath)
	}
}

// artifactsDir is $PARLEY_ARTIFACTS (created if needed), or a temporary
// directory of the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("PARLEY_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser is one headless Chromium with one tab, and the console messages
// its pages wrote.
type browser struct {
	name string
	ctx  context.Context
	mu   sync.Mutex
	logs []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, ctx context.Context, name string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{name: name, ctx: bctx}
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, m)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// clickWhenThere clicks the element sel names from inside the page, once it
// exists: a list the page re-renders (unread counts, delivery marks) can
// replace the node between a DOM lookup and a protocol-level click.
func (b *browser) clickWhenThere(t *testing.T, what, sel string) {
	t.Helper()
	q, _ := json.Marshal(sel)
	b.wait(t, what, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true; })()`, q))
}

// wait polls a JavaScript predicate in the page until it holds (bounded).
func (b *browser) wait(t *testing.T, what, predicate string) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](predicate,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second)))
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v", b.name, what, err)
	}
}

func (b *browser) screenshot(t *testing.T, dir, file string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("%s: screenshot: %v", b.name, err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// problems lists uncaught exceptions and errors (CSP violations among them)
// that the pages logged.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.logs {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			out = append(out, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m.String()))
		}
	}
	return out
}

func (b *browser) checkProblems(t *testing.T) {
	t.Helper()
	if p := b.problems(); len(p) > 0 {
		t.Errorf("browser %s logged errors:\n%s", b.name, strings.Join(p, "\n"))
	}
}

func (b *browser) clearLogs() {
	b.mu.Lock()
	b.logs = nil
	b.mu.Unlock()
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string { return strconv.Quote(s) }

// hasMessage is a predicate: the open group shows a message with text.
func hasMessage(text string) string {
	return `Array.from(document.querySelectorAll('#message-list .bubble')).some(e => e.textContent === ` + jsString(text) + `)`
}

// TestWebUI drives the embedded web chat of two nodes in headless Chromium:
// a message typed in A's page shows up, live, in B's.
func TestWebUI(t *testing.T) {
	needChromium(t)
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	dA := startDaemon(t, bin, "alice", homeA)
	startDaemon(t, bin, "bob", homeB)

	gid := strings.TrimSpace(mustRun(t, bin, homeA, "group", "create", "Family"))
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Family"))
	mustRun(t, bin, homeB, "group", "join", code)
	mustRun(t, bin, homeA, "send", "Family", "welcome, <b>bob</b> & co")
	// B holds it but has never opened the group: it stays unread there
	// (the node keeps read positions), so a second message makes two.
	poll(t, 30*time.Second, "the first message on B", func() (bool, string) {
		r := run(t, bin, homeB, "history", "Family")
		return strings.Contains(r.stdout, "welcome, <b>bob</b> & co"), r.stdout + r.stderr
	})

	urlA := strings.TrimSpace(mustRun(t, bin, homeA, "web"))
	urlB := strings.TrimSpace(mustRun(t, bin, homeB, "web"))
	for _, u := range []string{urlA, urlB} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/#token=") {
			t.Fatalf("parley web printed %q", u)
		}
	}
	baseA, _, _ := strings.Cut(urlA, "#")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a := newBrowser(t, ctx, "A")
	b := newBrowser(t, ctx, "B")
	dir := artifactsDir(t)
	group := `#group-list .group[data-id="` + gid + `"]`

	// Without the token the page only shows how to log in.
	a.do(t, "open without token", chromedp.Navigate(baseA), chromedp.WaitVisible(chromedp.ID("login")))
	a.wait(t, "no app without token", `document.getElementById('app').hidden`)

	b.do(t, "open B", chromedp.Navigate(urlB), chromedp.WaitVisible(chromedp.CSS(group)))
	b.wait(t, "token gone from the address bar", `location.hash === ''`)
	// (via about:blank: a change of fragment alone would not load the page)
	a.do(t, "open A", chromedp.Navigate("about:blank"), chromedp.Navigate(urlA), chromedp.WaitVisible(chromedp.CSS(group)))
	b.wait(t, "B's event stream", `document.getElementById('conn').dataset.state === 'online'`)
	a.wait(t, "A's event stream", `document.getElementById('conn').dataset.state === 'online'`)

	// A opens the group; the earlier message is escaped text, not markup.
	a.clickWhenThere(t, "open the group on A", group)
	a.do(t, "the composer on A", chromedp.WaitVisible(chromedp.ID("composer-input")))
	a.wait(t, "history on A", hasMessage("welcome, <b>bob</b> & co"))

	// B has no group open: a message from A counts as unread there.
	first := "first from the browser"
	a.do(t, "type on A", chromedp.SendKeys(chromedp.ID("composer-input"), first), chromedp.Click(chromedp.ID("btn-send")))
	a.wait(t, "own message on A", hasMessage(first))
	b.wait(t, "unread badge on B", `(document.querySelector('`+group+` .badge') || {}).textContent === '2'`)
	b.wait(t, "title counts unread", `document.title === '(2) Parley'`)
	b.screenshot(t, dir, "webui-laptop-unread.png")

	// B opens the group: both messages, no badge; then a message typed on A
	// (Enter sends) appears live in B's open pane.
	b.clickWhenThere(t, "open the group on B", group)
	b.wait(t, "first message on B", hasMessage(first))
	b.wait(t, "badge cleared", `!document.querySelector('`+group+` .badge')`)
	live := "hello from A's browser, live"
	a.do(t, "type on A with Enter", chromedp.SendKeys(chromedp.ID("composer-input"), live+"\n"))
	b.wait(t, "live message on B", hasMessage(live))
	b.wait(t, "sender name on B", `Array.from(document.querySelectorAll('#message-list .msg-author')).some(e => e.textContent === 'alice')`)

	reply := "and a reply from B"
	b.do(t, "reply on B", chromedp.SendKeys(chromedp.ID("composer-input"), reply), chromedp.Click(chromedp.ID("btn-send")))
	a.wait(t, "reply on A", hasMessage(reply))

	// Links are clickable (http/https only, opening without an opener),
	// every message shows its time, and own messages their delivery.
	link := "see https://example.org/a?b=1. not javascript:alert(1)"
	a.do(t, "send a link", chromedp.SendKeys(chromedp.ID("composer-input"), link+"\n"))
	b.wait(t, "link on B", `(() => { const a = document.querySelector('#message-list a[href="https://example.org/a?b=1"]');
		return !!a && a.rel.includes('noopener') && a.target === '_blank' && a.textContent === 'https://example.org/a?b=1' &&
			document.querySelectorAll('#message-list a').length === 1; })()`)
	b.wait(t, "a time on every message", `Array.from(document.querySelectorAll('#message-list .msg')).every(li => li.querySelector('time'))`)
	a.wait(t, "stored by both on A", `Array.from(document.querySelectorAll('#message-list .msg.self .msg-delivery')).some(e => e.textContent.startsWith('✓✓'))`)

	// Invite dialog on A shows a code and its QR code.
	a.do(t, "invite", chromedp.Click(chromedp.ID("btn-invite")))
	a.wait(t, "invite code", `document.getElementById('invite-code').value.startsWith('parley1')`)
	a.wait(t, "invite QR", `(() => { const i = document.getElementById('invite-qr'); return !i.hidden && i.src.startsWith('data:image/svg+xml') && i.naturalWidth > 0; })()`)
	a.screenshot(t, dir, "webui-laptop-invite.png")
	a.do(t, "close invite", chromedp.Click(chromedp.CSS(`#dlg-invite [data-close]`)))

	b.screenshot(t, dir, "webui-laptop-chat.png")

	// Phone width: one pane at a time, with a way back to the list.
	b.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	b.wait(t, "chat pane at phone width", `getComputedStyle(document.querySelector('.sidebar')).display === 'none'`)
	b.screenshot(t, dir, "webui-phone-chat.png")
	b.do(t, "back to the list", chromedp.Click(chromedp.ID("btn-back")))
	b.wait(t, "list at phone width", `getComputedStyle(document.querySelector('.chat')).display === 'none'`)
	b.screenshot(t, dir, "webui-phone-groups.png")

	// A bookmarked address (no token) keeps working across a restart of
	// the node: same address, same login. The page is closed first (an
	// open page polling a stopped node logs refused connections, as it
	// should); what it logged until then is checked now.
	a.checkProblems(t)
	a.do(t, "leave the page before the restart", chromedp.Navigate("about:blank"))
	a.clearLogs()
	dA.stop(t)
	startDaemon(t, bin, "alice", homeA)
	if again := strings.TrimSpace(mustRun(t, bin, homeA, "web")); again != urlA {
		t.Fatalf("web address changed across a restart: %q, then %q", urlA, again)
	}
	a.do(t, "bookmark after restart", chromedp.Navigate("about:blank"), chromedp.Navigate(baseA), chromedp.WaitVisible(chromedp.CSS(group)))
	a.wait(t, "logged in after restart", `document.getElementById('login').hidden && !document.getElementById('app').hidden`)
	a.wait(t, "the last open group reopened", `!document.getElementById('composer').hidden`)

	for _, br := range []*browser{a, b} {
		if p := br.problems(); len(p) > 0 {
			t.Errorf("browser %s logged errors:\n%s", br.name, strings.Join(p, "\n"))
		}
	}
}
