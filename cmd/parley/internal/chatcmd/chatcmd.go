package chatcmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Front is what every chat front end does for the commands.
type Front interface {
	Quit()
	ShowHelp(lines []string)
	Create(name string) error
	Join(code string) error
	Invite(group string) error // group "" is the current group
	Switch(group string) error
	ListGroups() error
	ListMembers() error // of the current group
	ListPeers() error
}

// HistoryFront is a front end that prints recent messages on request (the
// line chat; the full-screen chat shows history by scrolling).
type HistoryFront interface {
	ShowHistory(n int) error
}

// ProfileFront is a front end that can list profiles and restart on another
// (the full-screen chat).
type ProfileFront interface {
	Profile(name string) error // name "" lists
}

// MemberFront is a front end that manages membership (both chats): display
// name, removing members, leaving, limited invites.
type MemberFront interface {
	SetName(name string) error
	Remove(member string) error // from the current group
	Leave() error               // the current group
	// InviteLimited makes a limited invite for the current group (or
	// group): expires 0 is the node's default, uses 0 unlimited.
	InviteLimited(group string, expires time.Duration, uses int) error
}

func isMemberFront(f Front) bool { _, ok := f.(MemberFront); return ok }

// Errors of Run, wrapped with the detail.
var (
	ErrUsage   = errors.New("usage")
	ErrUnknown = errors.New("unknown command")
)

// DefaultHistory is how many messages /history shows without N.
const DefaultHistory = 20

// Command is one slash command.
type Command struct {
	Name    string   // without the slash
	Aliases []string // other names, without the slash
	Args    string   // argument synopsis: "NAME", "[N]", "" for none
	Help    string   // one line
	NeedArg bool     // Run is not called without an argument
	// Run does the command; arg is the trimmed rest of the line.
	Run func(f Front, arg string) error
	// offered reports whether f can do the command (nil: every front).
	offered func(f Front) bool
}

// Usage is the command's synopsis, e.g. "/create NAME".
func (c *Command) Usage() string {
	if c.Args == "" {
		return "/" + c.Name
	}
	return "/" + c.Name + " " + c.Args
}

// UsageError is the error for a command called with bad arguments.
func (c *Command) UsageError() error { return fmt.Errorf("%w: %s", ErrUsage, c.Usage()) }

// Offered reports whether front end f can do c.
func (c *Command) Offered(f Front) bool { return c.offered == nil || c.offered(f) }

func isHistoryFront(f Front) bool { _, ok := f.(HistoryFront); return ok }
func isProfileFront(f Front) bool { _, ok := f.(ProfileFront); return ok }

// table is in /help order; init fills it (its handlers refer to it).
var table []*Command

func init() {
	table = []*Command{
		{Name: "create", Aliases: []string{"new"}, Args: "NAME", NeedArg: true,
			Help: "create a group and switch to it",
			Run:  func(f Front, arg string) error { return f.Create(arg) }},
		{Name: "join", Args: "CODE", NeedArg: true,
			Help: "join a group with an invite code and switch to it",
			Run: func(f Front, arg string) error {
				// A code pasted across lines or with spaces is still one code.
				return f.Join(strings.Join(strings.Fields(arg), ""))
			}},
		{Name: "invite", Args: "[GROUP] [--expires D] [--uses N]",
			Help: "show an invite code for the current group (or GROUP), optionally limited",
			Run:  runInvite},
		{Name: "switch", Aliases: []string{"s", "go"}, Args: "GROUP", NeedArg: true,
			Help: "make GROUP (name or id prefix) the current group",
			Run:  func(f Front, arg string) error { return f.Switch(arg) }},
		{Name: "groups", Help: "list groups",
			Run: func(f Front, _ string) error { return f.ListGroups() }},
		{Name: "members", Help: "list the current group's members with roles and safety numbers",
			Run: func(f Front, _ string) error { return f.ListMembers() }},
		{Name: "name", Args: "NEWNAME", NeedArg: true, offered: isMemberFront,
			Help: "change your display name in every group",
			Run:  func(f Front, arg string) error { return f.(MemberFront).SetName(arg) }},
		{Name: "remove", Aliases: []string{"kick"}, Args: "MEMBER", NeedArg: true, offered: isMemberFront,
			Help: "remove MEMBER (name, safety number or peer id prefix) from the current group",
			Run:  func(f Front, arg string) error { return f.(MemberFront).Remove(arg) }},
		{Name: "leave", offered: isMemberFront,
			Help: "leave the current group",
			Run:  func(f Front, _ string) error { return f.(MemberFront).Leave() }},
		{Name: "peers", Help: "list connected peers",
			Run: func(f Front, _ string) error { return f.ListPeers() }},
		{Name: "history", Args: "[N]", offered: isHistoryFront,
			Help: fmt.Sprintf("show the last N messages of the current group (default %d)", DefaultHistory),
			Run: func(f Front, arg string) error {
				n := DefaultHistory
				if arg != "" {
					v, err := strconv.Atoi(arg)
					if err != nil || v <= 0 {
						return Lookup("history").UsageError()
					}
					n = v
				}
				return f.(HistoryFront).ShowHistory(n)
			}},
		{Name: "profile", Aliases: []string{"profiles"}, Args: "[NAME]", offered: isProfileFront,
			Help: "list profiles, or restart the chat on profile NAME",
			Run:  func(f Front, arg string) error { return f.(ProfileFront).Profile(arg) }},
		{Name: "help", Aliases: []string{"?", "h"}, Help: "this list",
			Run: func(f Front, _ string) error { f.ShowHelp(HelpLines(f)); return nil }},
		{Name: "quit", Aliases: []string{"exit", "q"}, Help: "stop the node and exit",
			Run: func(f Front, _ string) error { f.Quit(); return nil }},
	}
	table = withPolls(table)
}

// Lookup finds a command by name or alias (without the slash, any case).
func Lookup(name string) *Command {
	name = strings.ToLower(name)
	for _, c := range table {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// Commands lists the commands f offers, in /help order.
func Commands(f Front) []*Command {
	out := make([]*Command, 0, len(table))
	for _, c := range table {
		if c.Offered(f) {
			out = append(out, c)
		}
	}
	return out
}

// Parse tells a message from a command. A line whose first non-blank
// character is "/" is a command (isCommand, text is the trimmed line);
// "//" escapes a message that starts with "/" (text loses one slash);
// anything else is a message, returned as typed.
func Parse(line string) (text string, isCommand bool) {
	t := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(t, "//"):
		return t[1:], false
	case strings.HasPrefix(t, "/"):
		return t, true
	}
	return line, false
}

// Run runs a command line ("/name args") against f.
func Run(f Front, line string) error {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	c := Lookup(strings.TrimPrefix(name, "/"))
	if c == nil || !c.Offered(f) {
		return fmt.Errorf("%w %s (type /help)", ErrUnknown, name)
	}
	if c.NeedArg && arg == "" {
		return c.UsageError()
	}
	return c.Run(f, arg)
}

// HelpLines lists the commands f offers, one aligned line each, plus how to
// send a message that starts with a slash.
func HelpLines(f Front) []string {
	cs := Commands(f)
	w := 0
	for _, c := range cs {
		w = max(w, len(c.Usage()))
	}
	lines := make([]string, 0, len(cs)+1)
	for _, c := range cs {
		lines = append(lines, fmt.Sprintf("%-*s  %s", w, c.Usage(), c.Help))
	}
	return append(lines, fmt.Sprintf("%-*s  %s", w, "//text", "send text that starts with /"))
}

// runInvite parses "/invite [GROUP] [--expires D] [--uses N]".
func runInvite(f Front, arg string) error {
	var (
		group   []string
		expires time.Duration
		uses    int
		limited bool
	)
	fields := strings.Fields(arg)
	for i := 0; i < len(fields); i++ {
		flag, val, hasVal := strings.Cut(fields[i], "=")
		switch flag {
		case "--expires", "--uses":
			if !hasVal {
				if i+1 >= len(fields) {
					return Lookup("invite").UsageError()
				}
				i++
				val = fields[i]
			}
			limited = true
			var err error
			if flag == "--expires" {
				expires, err = ParseDuration(val)
			} else if uses, err = strconv.Atoi(val); err == nil && uses < 0 {
				err = errors.New("negative")
			}
			if err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrUsage, flag, val, err)
			}
		default:
			group = append(group, fields[i])
		}
	}
	if !limited {
		return f.Invite(strings.Join(group, " "))
	}
	mf, ok := f.(MemberFront)
	if !ok {
		return fmt.Errorf("%w: this chat cannot make limited invites", ErrUsage)
	}
	return mf.InviteLimited(strings.Join(group, " "), expires, uses)
}

// maxDays bounds "Nd" durations (and keeps them from overflowing).
const maxDays = 3650

// ParseDuration parses a Go duration ("24h", "90m") or whole days ("7d").
// It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > maxDays {
			return 0, fmt.Errorf("bad duration %q: use e.g. 24h or 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("bad duration %q: use e.g. 24h or 7d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("bad duration %q: must be positive", s)
	}
	return d, nil
}
