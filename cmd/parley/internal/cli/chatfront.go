package cli

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// lineFront is the chat commands' view of the line chat: each action talks
// to the node and prints its outcome.
type lineFront struct {
	c    *chatUI
	ctx  context.Context
	quit bool
}

var (
	_ chatcmd.Front        = (*lineFront)(nil)
	_ chatcmd.HistoryFront = (*lineFront)(nil)
	_ chatcmd.MemberFront  = (*lineFront)(nil)
)

// errNoGroup is the advice when a command needs a current group.
var errNoGroup = errors.New("no current group: /create NAME, /join CODE or /switch GROUP")

func (f *lineFront) Quit() { f.quit = true }

func (f *lineFront) ShowHelp(cmds []string) {
	f.c.printf("commands:\n")
	for _, l := range cmds {
		f.c.printf("  %s\n", l)
	}
	f.c.printf("anything else is sent to the current group\n")
}

func (f *lineFront) Create(name string) error {
	g, err := f.c.n.CreateGroup(f.ctx, name, false)
	if err != nil {
		return err
	}
	f.c.current = g.ID
	if t := node.NameTakenNotice(g); t != "" {
		f.c.printf("%s\n", termtext.Sanitize(t))
	}
	f.c.printf("created %s (%s); /invite prints a code for others\n", termtext.OneLine(g.Name), g.ID)
	return nil
}

func (f *lineFront) Join(code string) error {
	g, err := f.c.n.Join(f.ctx, code)
	if err != nil {
		return err
	}
	f.c.current = g.ID
	f.c.printf("joined %s (%s)\n", termtext.OneLine(g.Name), g.ID)
	return nil
}

func (f *lineFront) Invite(group string) error {
	id := f.c.current
	if group != "" {
		g, err := f.c.n.Group(group)
		if err != nil {
			return err
		}
		id = g.ID
	}
	if id == "" {
		return errNoGroup
	}
	code, err := f.c.n.Invite(id)
	if err != nil {
		return err
	}
	f.c.printf("invite code for %s (it grants access to the group; share it privately):\n%s\n", termtext.OneLine(f.c.groupName(id)), code)
	return nil
}

func (f *lineFront) Switch(group string) error {
	g, err := f.c.n.Group(group)
	if err != nil {
		return err
	}
	f.c.current = g.ID
	f.c.printf("now in %s\n", termtext.OneLine(g.Name))
	return nil
}

func (f *lineFront) ListGroups() error {
	gs, err := f.c.n.Groups()
	if err != nil {
		return err
	}
	if len(gs) == 0 {
		f.c.printf("no groups yet: /create NAME or /join CODE\n")
	}
	for _, g := range gs {
		mark := " "
		if g.ID == f.c.current {
			mark = "*"
		}
		f.c.printf("%s %s  %s  %d members, %d messages\n", mark, termtext.OneLine(g.Name), g.ID, g.Members, g.Messages)
	}
	return nil
}

func (f *lineFront) ListMembers() error {
	if f.c.current == "" {
		return errNoGroup
	}
	ms, err := backend.MemberRows(f.c.n, f.c.current)
	if err != nil {
		return err
	}
	for _, m := range ms {
		self := ""
		if m.Self {
			self = " (you)"
		}
		f.c.printf("%s%s  %s  %s  %s\n", orDash(termtext.OneLine(m.Name)), self, orDash(termtext.OneLine(m.Role)),
			orDash(termtext.OneLine(m.SafetyNumber)), termtext.OneLine(m.PeerID))
	}
	return nil
}

func (f *lineFront) ListPeers() error {
	ps := f.c.n.Peers()
	if len(ps) == 0 {
		f.c.printf("no peers connected\n")
	}
	for _, p := range ps {
		f.c.printf("%s  via %s  %s  %s  %s\n", p.ID, p.Via, latency(p.LatencyMs), syncSummary(p.Sync), termtext.OneLine(strings.Join(p.Addrs, " ")))
	}
	return nil
}

func (f *lineFront) ShowHistory(n int) error {
	if f.c.current == "" {
		return errNoGroup
	}
	ms, err := f.c.n.History(f.c.current, "", n)
	if err != nil {
		return err
	}
	for _, m := range ms {
		f.c.printf("%s\n", f.c.numbered(m, "01-02 15:04", ""))
	}
	return nil
}

func (f *lineFront) SetName(name string) error {
	if err := f.c.n.SetDisplayName(f.ctx, name); err != nil {
		return err
	}
	f.c.printf("your name is now %s\n", termtext.OneLine(name))
	return nil
}

func (f *lineFront) Remove(member string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	if err := f.c.n.RemoveMember(f.ctx, f.c.current, member); err != nil {
		return memberHint(err, f.c.current)
	}
	f.c.printf("removed %s from %s\n", termtext.OneLine(member), termtext.OneLine(f.c.groupName(f.c.current)))
	return nil
}

func (f *lineFront) Leave() error {
	if f.c.current == "" {
		return errNoGroup
	}
	name := f.c.groupName(f.c.current)
	if err := f.c.n.Leave(f.ctx, f.c.current); err != nil {
		return memberHint(err, f.c.current)
	}
	f.c.current = ""
	f.c.printf("left %s; /switch GROUP to chat in another\n", termtext.OneLine(name))
	return nil
}

func (f *lineFront) InviteLimited(group string, expires time.Duration, uses int) error {
	id := f.c.current
	if group != "" {
		g, err := f.c.n.Group(group)
		if err != nil {
			return err
		}
		id = g.ID
	}
	if id == "" {
		return errNoGroup
	}
	code, info, err := f.c.n.CreateInvite(f.ctx, id, node.InviteOptions{Expires: expires, Uses: uses})
	if err != nil {
		return memberHint(err, id)
	}
	inv := api.InviteFromNode(info)
	f.c.printf("invite %s for %s (expires %s, uses %s; share it privately):\n%s\n", termtext.OneLine(inv.ID),
		termtext.OneLine(f.c.groupName(id)), inviteTime(inv.Expires), inviteUses(inv), code)
	return nil
}
