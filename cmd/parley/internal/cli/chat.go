package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// chatUI is the line-based chat of `parley up`.
type chatUI struct {
	a       *app
	n       *node.Node
	mu      sync.Mutex // serialises output
	current string     // current group id
	names   map[string]string
	polls   chatcmd.PollNumbers // numbers of the polls shown (/vote N)
	nums    chatcmd.Numbers     // "#N" of shown messages, for /reply, /react... (richchat.go)
	found   []node.SearchResult // the last /search (chatsearch.go)

	// Touched only by the event loop.
	bulkSync     map[string]bool // groups with a long catch-up running
	lastProgress time.Time
	lastMissing  string // the missing notice last shown (chatstate.go)
}

func (c *chatUI) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Names and texts come from other members: no raw control characters.
	fmt.Fprint(c.a.stdout, termtext.Sanitize(fmt.Sprintf(format, args...)))
}

func (c *chatUI) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.a.stderr, termtext.Sanitize(fmt.Sprintf("error: "+format+"\n", args...)))
}

// groupName returns a group's name by id, caching it.
func (c *chatUI) groupName(id string) string {
	if name, ok := c.names[id]; ok {
		return name
	}
	gi, err := c.n.Group(id)
	if err != nil {
		return shortID(id)
	}
	c.names[id] = gi.Name
	return gi.Name
}

func stdinIsTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// chat runs the interactive front end until /quit, end of a terminal's
// input, ctx's end (a signal) or the node's end.
func (a *app) chat(ctx context.Context, n *node.Node) error {
	c := &chatUI{a: a, n: n, names: map[string]string{}}
	events, stop := n.Subscribe()
	defer stop()

	tty := stdinIsTerminal(a.stdin)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(a.stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()

	if gs, err := n.Groups(); err == nil && len(gs) > 0 {
		c.current = gs[0].ID
	}
	c.banner()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			c.event(ev)
		case line, ok := <-lines:
			if !ok {
				lines = nil
				if tty {
					return nil
				}
				continue // scripted: keep running until a signal
			}
			if quit := c.line(ctx, line); quit {
				return nil
			}
		}
	}
}

func (c *chatUI) banner() {
	s := c.n.Status()
	c.printf("parley: you are %s\n", s.ID)
	for _, ad := range s.Addrs {
		c.printf("  listening on %s\n", ad)
	}
	if c.current != "" {
		c.printf("current group: %s (type /help for commands)\n", c.groupName(c.current))
	} else {
		c.printf("no groups yet: /create NAME or /join CODE (type /help for commands)\n")
	}
	c.showUnread()
	c.checkMissing()
}

func (c *chatUI) event(ev node.Event) {
	if c.pollEvent(ev) {
		return
	}
	switch ev.Type {
	case node.EventMessage:
		if ev.Message != nil && !(ev.Backfill && c.bulkSync[ev.Group]) {
			c.printf("%s\n", c.numbered(*ev.Message, "15:04", c.groupName(ev.Group)))
		}
	case node.EventUpdate:
		c.updated(ev)
	case node.EventSync:
		c.syncProgress(ev)
		if ev.Sync != nil && ev.Sync.Done && ev.Group == c.current {
			c.checkMissing()
		}
	case node.EventPeer:
		if ev.Peer != nil {
			state := "disconnected"
			if ev.Peer.Connected {
				state = "connected"
			}
			c.printf("* peer %s %s\n", shortID(ev.Peer.ID), state)
		}
	}
}

// line handles one input line; it reports whether to quit.
func (c *chatUI) line(ctx context.Context, line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return false
	}
	text, isCmd := chatcmd.Parse(line)
	if !isCmd {
		c.send(ctx, text)
		return false
	}
	f := &lineFront{c: c, ctx: ctx}
	if err := chatcmd.Run(f, text); err != nil {
		c.errorf("%v", err)
	}
	return f.quit
}

func (c *chatUI) haveGroup() bool {
	if c.current == "" {
		c.errorf("%v", errNoGroup)
		return false
	}
	return true
}

func (c *chatUI) send(ctx context.Context, text string) {
	if !c.haveGroup() {
		return
	}
	if _, err := c.n.Send(ctx, c.current, text); err != nil {
		c.errorf("%v", err)
	}
}

// bulkSyncAbove is the catch-up size from which the chat shows progress
// lines instead of every back-filled message.
const bulkSyncAbove = 50

// syncProgress prints catch-up progress for long pulls, at most once a second.
func (c *chatUI) syncProgress(ev node.Event) {
	p := ev.Sync
	if p == nil {
		return
	}
	if c.bulkSync == nil {
		c.bulkSync = map[string]bool{}
	}
	if p.Total > bulkSyncAbove && !p.Done {
		c.bulkSync[ev.Group] = true
	}
	if !c.bulkSync[ev.Group] {
		return
	}
	if p.Done {
		delete(c.bulkSync, ev.Group)
		c.printf("* %s: caught up %d messages from %s\n", c.groupName(ev.Group), p.Received, shortID(p.Peer))
		return
	}
	if time.Since(c.lastProgress) < time.Second {
		return
	}
	c.lastProgress = time.Now()
	c.printf("* %s: catching up %d/%d from %s\n", c.groupName(ev.Group), p.Received, p.Total, shortID(p.Peer))
}
