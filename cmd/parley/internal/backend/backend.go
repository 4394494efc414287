package backend

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// Backend is what a front end needs from a running node.
type Backend interface {
	Status() node.Status
	Peers() []node.PeerInfo
	Groups() ([]node.GroupInfo, error)
	Group(ref string) (node.GroupInfo, error)
	Members(ref string) ([]node.Member, error)
	History(ref, before string, limit int) ([]node.Message, error)
	Send(ctx context.Context, ref, text string) (node.Message, error)
	CreateGroup(ctx context.Context, name string, historyFromJoin bool) (node.GroupInfo, error)
	Join(ctx context.Context, code string) (node.GroupInfo, error)
	Invite(ref string) (string, error)
	Subscribe() (<-chan node.Event, func())
	Membership
	Files // files.go
	DirectMessages
	Polls
	Rich
	UX // ux.go
	Searcher
}

// Membership is the part of Backend that manages members, roles, invites
// and names.
type Membership interface {
	// MemberList lists members with roles and safety numbers; for a group
	// without roles it fails with node.ErrLegacyGroup (use Members).
	MemberList(ref string) ([]node.MemberInfo, error)
	RemoveMember(ctx context.Context, ref, member string) error
	Leave(ctx context.Context, ref string) error
	Promote(ctx context.Context, ref, member string) error
	Demote(ctx context.Context, ref, member string) error
	RenameGroup(ctx context.Context, ref, name string) error
	SetDisplayName(ctx context.Context, name string) error
	CreateInvite(ctx context.Context, ref string, o node.InviteOptions) (string, node.InviteInfo, error)
	Invites(ref string) ([]node.InviteInfo, error)
	RevokeInvite(ctx context.Context, ref, inviteID string) error
	SafetyNumber() string
}

var _ Backend = (*node.Node)(nil)
