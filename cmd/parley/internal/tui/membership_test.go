package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-chat/parley/node"
)

func (f *fake) call(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.callErr
}

func (f *fake) MemberList(ref string) ([]node.MemberInfo, error) {
	return []node.MemberInfo{
		{Name: "me", Role: "owner", SafetyNumber: "11111 22222", PeerID: selfID, Self: true},
		{Name: "bob\x1b[31m", Role: "member", SafetyNumber: "33333 44444", PeerID: "12D3KooWBob"},
	}, nil
}
func (f *fake) RemoveMember(_ context.Context, ref, member string) error {
	return f.call("remove %s %s", ref, member)
}
func (f *fake) Leave(_ context.Context, ref string) error { return f.call("leave %s", ref) }
func (f *fake) Promote(_ context.Context, ref, member string) error {
	return f.call("promote %s %s", ref, member)
}
func (f *fake) Demote(_ context.Context, ref, member string) error {
	return f.call("demote %s %s", ref, member)
}
func (f *fake) RenameGroup(_ context.Context, ref, name string) error {
	return f.call("rename %s %s", ref, name)
}
func (f *fake) SetDisplayName(_ context.Context, name string) error { return f.call("name %s", name) }
func (f *fake) CreateInvite(_ context.Context, ref string, o node.InviteOptions) (string, node.InviteInfo, error) {
	err := f.call("invite %s %v %d", ref, o.Expires, o.Uses)
	return "parley1limited", node.InviteInfo{ID: "inv1", MaxUses: o.Uses}, err
}
func (f *fake) Invites(ref string) ([]node.InviteInfo, error) { return nil, nil }
func (f *fake) RevokeInvite(_ context.Context, ref, id string) error {
	return f.call("revoke %s %s", ref, id)
}
func (f *fake) SafetyNumber() string { return "11111 22222" }

func TestMembersShowRolesAndSafetyNumbers(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	m := start(t, f, 100, 30)
	typeLine(t, m, "/members")
	v := checkFrame(t, m, 100, 30)
	for _, want := range []string{"owner", "11111 22222", "member", "33333 44444", "(you)"} {
		if !strings.Contains(v, want) {
			t.Errorf("members panel lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(m.View(), "\x1b[31m") {
		t.Error("a member name's escape sequence reached the screen raw")
	}
}

func TestMembershipCommands(t *testing.T) {
	f := newFake()
	f.addGroup("aa", "Family", 3)
	m := start(t, f, 80, 24)
	typeLine(t, m, "/name Alice B")
	if !strings.Contains(m.notice, "your name is now Alice B") {
		t.Errorf("notice after /name: %q", m.notice)
	}
	typeLine(t, m, "/remove bob")
	typeLine(t, m, "/invite --expires 1d --uses 2")
	if m.modal == nil || m.modal.code != "parley1limited" {
		t.Fatalf("no invite panel for a limited invite: %+v", m.modal)
	}
	key(t, m, tea.KeyEsc)
	typeLine(t, m, "/leave")
	want := []string{"name Alice B", "remove aa bob", fmt.Sprintf("invite aa %v 2", 24*time.Hour), "leave aa"}
	if strings.Join(f.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
	f.callErr = node.ErrNotAuthorized
	typeLine(t, m, "/remove bob")
	if !m.isErr || !strings.Contains(m.notice, "not authorized") {
		t.Errorf("error notice: %q", m.notice)
	}
	f.callErr = nil
	typeLine(t, m, "/invite --uses x")
	if !m.isErr || !strings.Contains(m.notice, "usage") {
		t.Errorf("bad --uses: %q", m.notice)
	}
}
