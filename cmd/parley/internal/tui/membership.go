package tui

// Membership commands of the full-screen chat (chatcmd.MemberFront): they
// talk to the node in a tea.Cmd and report with a doneMsg.

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.MemberFront = (*front)(nil)

// doneMsg ends a membership command: notice on success, else err; refresh
// reloads the group list (a group was left).
type doneMsg struct {
	notice  string
	err     error
	refresh bool
}

func (m *Model) onDone(msg doneMsg) tea.Cmd {
	m.busy = ""
	if msg.err != nil {
		m.setErr(msg.err)
	} else {
		m.setNotice("%s", msg.notice)
	}
	if !msg.refresh {
		return nil
	}
	be := m.be
	return func() tea.Msg {
		gs, err := be.Groups()
		return groupsMsg{groups: gs, err: err}
	}
}

// async runs fn off the update loop.
func (f *front) async(busy string, refresh bool, fn func(ctx context.Context, be backend.Backend) (string, error)) {
	ctx, be := f.m.ctx, f.m.be
	f.m.busy = busy
	f.cmd = func() tea.Msg {
		notice, err := fn(ctx, be)
		return doneMsg{notice: notice, err: err, refresh: refresh}
	}
}

func (f *front) SetName(name string) error {
	f.async("changing your name…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		return "your name is now " + termtext.OneLine(name), be.SetDisplayName(ctx, name)
	})
	return nil
}

func (f *front) Remove(member string) error {
	g := f.m.current()
	if g == nil {
		return fmt.Errorf("no current group")
	}
	id, gname := g.info.ID, termtext.OneLine(g.info.Name)
	f.async("removing "+termtext.OneLine(member)+"…", false, func(ctx context.Context, be backend.Backend) (string, error) {
		return fmt.Sprintf("removed %s from %s", termtext.OneLine(member), gname), be.RemoveMember(ctx, id, member)
	})
	return nil
}

func (f *front) Leave() error {
	g := f.m.current()
	if g == nil {
		return fmt.Errorf("no current group")
	}
	id, gname := g.info.ID, termtext.OneLine(g.info.Name)
	f.async("leaving "+gname+"…", true, func(ctx context.Context, be backend.Backend) (string, error) {
		return "left " + gname, be.Leave(ctx, id)
	})
	return nil
}

func (f *front) InviteLimited(group string, expires time.Duration, uses int) error {
	m := f.m
	g := m.current()
	if group != "" {
		gi, err := m.be.Group(group)
		if err != nil {
			return err
		}
		g = m.groupByID(gi.ID)
	}
	if g == nil {
		return fmt.Errorf("no group: /create NAME or /join CODE first")
	}
	code, _, err := m.be.CreateInvite(m.ctx, g.info.ID, node.InviteOptions{Expires: expires, Uses: uses})
	if err != nil {
		return err
	}
	m.showInvite(g.info.Name, code)
	return nil
}
