package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/node"
)

const chatHelp = `commands:
  /groups          list groups
  /create NAME     create a group and switch to it
  /join CODE       join a group with an invite code and switch to it
  /invite          print an invite code for the current group
  /switch GROUP    make GROUP (name or id) the current group
  /peers           list connected peers
  /history [N]     show the last N messages of the current group (default 20)
  /quit            stop the node and exit
anything else is sent to the current group (start a line with // to send a leading /)`

// chatUI is the line-based chat of `parley up`.
type chatUI struct {
	a       *app
	n       *node.Node
	mu      sync.Mutex // serialises output
	current string     // current group id
	names   map[string]string

	// Touched only by the event loop.
	bulkSync     map[string]bool // groups with a long catch-up running
	lastProgress time.Time
}

func (c *chatUI) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.a.stdout, format, args...)
}

func (c *chatUI) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.a.stderr, "error: "+format+"\n", args...)
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
}

func (c *chatUI) event(ev node.Event) {
	switch ev.Type {
	case node.EventMessage:
		if ev.Message != nil && !(ev.Backfill && c.bulkSync[ev.Group]) {
			c.printf("%s\n", formatLine(*ev.Message, "15:04", c.groupName(ev.Group)))
		}
	case node.EventSync:
		c.syncProgress(ev)
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
	if strings.HasPrefix(line, "//") {
		c.send(ctx, line[1:])
		return false
	}
	if !strings.HasPrefix(line, "/") {
		c.send(ctx, line)
		return false
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit":
		return true
	case "/help", "/?":
		c.printf("%s\n", chatHelp)
	case "/groups":
		gs, err := c.n.Groups()
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		if len(gs) == 0 {
			c.printf("no groups yet: /create NAME or /join CODE\n")
		}
		for _, g := range gs {
			mark := " "
			if g.ID == c.current {
				mark = "*"
			}
			c.printf("%s %s  %s  %d members, %d messages\n", mark, g.Name, g.ID, g.Members, g.Messages)
		}
	case "/create":
		if arg == "" {
			c.errorf("usage: /create NAME")
			return false
		}
		g, err := c.n.CreateGroup(ctx, arg, false)
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		c.current = g.ID
		c.printf("created %s (%s); /invite prints a code for others\n", g.Name, g.ID)
	case "/join":
		if arg == "" {
			c.errorf("usage: /join CODE")
			return false
		}
		g, err := c.n.Join(ctx, arg)
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		c.current = g.ID
		c.printf("joined %s (%s)\n", g.Name, g.ID)
	case "/invite":
		if !c.haveGroup() {
			return false
		}
		code, err := c.n.Invite(c.current)
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		c.printf("invite code for %s (it grants access to the group; share it privately):\n%s\n", c.groupName(c.current), code)
	case "/switch":
		if arg == "" {
			c.errorf("usage: /switch GROUP")
			return false
		}
		g, err := c.n.Group(arg)
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		c.current = g.ID
		c.printf("now in %s\n", g.Name)
	case "/peers":
		ps := c.n.Peers()
		if len(ps) == 0 {
			c.printf("no peers connected\n")
		}
		for _, p := range ps {
			c.printf("%s  via %s  %s  %s  %s\n", p.ID, p.Via, latency(p.LatencyMs), syncSummary(p.Sync), strings.Join(p.Addrs, " "))
		}
	case "/history":
		if !c.haveGroup() {
			return false
		}
		limit := 20
		if arg != "" {
			v, err := strconv.Atoi(arg)
			if err != nil || v <= 0 {
				c.errorf("usage: /history [N]")
				return false
			}
			limit = v
		}
		ms, err := c.n.History(c.current, "", limit)
		if err != nil {
			c.errorf("%v", err)
			return false
		}
		for _, m := range ms {
			c.printf("%s\n", formatLine(m, "01-02 15:04", ""))
		}
	default:
		c.errorf("unknown command %s (type /help)", cmd)
	}
	return false
}

func (c *chatUI) haveGroup() bool {
	if c.current == "" {
		c.errorf("no current group: /create NAME, /join CODE or /switch GROUP")
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
