package backendtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/backend"
	"github.com/parley-chat/parley/node"
)

// SelfID is the fake node's peer id.
const SelfID = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelf"

// Fake is a backend.Backend whose membership part is faked.
type Fake struct {
	backend.Backend // nil: what is not faked panics

	mu      sync.Mutex
	calls   []string
	Err     error             // returned by every membership call when set
	Roster  []node.MemberInfo // MemberList; nil means a legacy group
	Legacy  []node.Member     // Members
	List    []node.InviteInfo // Invites
	Code    string            // invite code
	Created time.Time         // CreateInvite's Created
}

// New returns a fake with two members (an owner and a member).
func New() *Fake {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return &Fake{
		Roster: []node.MemberInfo{
			{Name: "alice", Role: "owner", SafetyNumber: "11111 22222 33333", PeerID: SelfID, Self: true, Joined: t0},
			{Name: "bob", Role: "member", SafetyNumber: "44444 55555 66666", PeerID: "12D3KooWBobBobBobBobBobBob", Joined: t0.Add(time.Hour)},
		},
		Legacy:  []node.Member{{ID: SelfID, Name: "alice", Self: true}, {ID: "12D3KooWBobBobBobBobBobBob", Name: "bob"}},
		Code:    "parley1fakecode",
		Created: t0,
	}
}

// Calls returns the membership calls so far, "verb arg..." each.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *Fake) call(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.Err
}

func (f *Fake) Status() node.Status { return node.Status{ID: SelfID} }

func (f *Fake) Members(ref string) ([]node.Member, error) {
	if err := f.call("members %s", ref); err != nil {
		return nil, err
	}
	return f.Legacy, nil
}

func (f *Fake) Invite(ref string) (string, error) {
	return f.Code, f.call("invite %s", ref)
}

func (f *Fake) MemberList(ref string) ([]node.MemberInfo, error) {
	if err := f.call("memberlist %s", ref); err != nil {
		return nil, err
	}
	if f.Roster == nil {
		return nil, fmt.Errorf("%w: %s", node.ErrLegacyGroup, ref)
	}
	return f.Roster, nil
}

func (f *Fake) RemoveMember(_ context.Context, ref, member string) error {
	return f.call("remove %s %s", ref, member)
}

func (f *Fake) Leave(_ context.Context, ref string) error { return f.call("leave %s", ref) }

func (f *Fake) Promote(_ context.Context, ref, member string) error {
	return f.call("promote %s %s", ref, member)
}

func (f *Fake) Demote(_ context.Context, ref, member string) error {
	return f.call("demote %s %s", ref, member)
}

func (f *Fake) RenameGroup(_ context.Context, ref, name string) error {
	return f.call("rename %s %s", ref, name)
}

func (f *Fake) SetDisplayName(_ context.Context, name string) error { return f.call("name %s", name) }

func (f *Fake) CreateInvite(_ context.Context, ref string, o node.InviteOptions) (string, node.InviteInfo, error) {
	if err := f.call("createinvite %s %v %d", ref, o.Expires, o.Uses); err != nil {
		return "", node.InviteInfo{}, err
	}
	exp := o.Expires
	if exp == 0 {
		exp = 7 * 24 * time.Hour
	}
	return f.Code, node.InviteInfo{ID: "inv1", Creator: SelfID, Created: f.Created, Expires: f.Created.Add(exp), MaxUses: o.Uses}, nil
}

func (f *Fake) Invites(ref string) ([]node.InviteInfo, error) {
	if err := f.call("invites %s", ref); err != nil {
		return nil, err
	}
	return f.List, nil
}

func (f *Fake) RevokeInvite(_ context.Context, ref, id string) error {
	return f.call("revoke %s %s", ref, id)
}

func (f *Fake) SafetyNumber() string { return "11111 22222 33333" }
