package node

// STUB: placeholder for the membership API (W1) so front ends compile.
// The coordinator drops this file when merging the real implementation.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var errMembershipStub = errors.New("membership: not wired yet")

// MemberInfo describes a group member for front ends.
type MemberInfo struct {
	Name, Role, SafetyNumber, PeerID string
	Self                             bool
	Joined                           time.Time
} // Role: "owner"|"admin"|"member"

// InviteInfo describes an invite.
type InviteInfo struct {
	ID, Creator      string
	Created, Expires time.Time
	MaxUses, Uses    int
	Revoked          bool
}

// InviteOptions bound an invite. Expires 0 -> 7 days; Uses 0 -> unlimited.
type InviteOptions struct {
	Expires time.Duration
	Uses    int
}

// Membership errors.
var (
	ErrAmbiguousMember = errors.New("ambiguous member")
	ErrNoSuchMember    = errors.New("no such member")
	ErrNotAuthorized   = errors.New("not authorized")
	ErrLegacyGroup     = errors.New("legacy group")
)

// MemberList lists a group's members with roles and safety numbers.
// The stub says "legacy group" so front ends fall back to Members.
func (n *Node) MemberList(ref string) ([]MemberInfo, error) {
	return nil, fmt.Errorf("%w: %w", ErrLegacyGroup, errMembershipStub)
}

// RemoveMember removes a member from a group.
func (n *Node) RemoveMember(ctx context.Context, ref, member string) error { return errMembershipStub }

// Leave leaves a group.
func (n *Node) Leave(ctx context.Context, ref string) error { return errMembershipStub }

// Promote makes a member an admin.
func (n *Node) Promote(ctx context.Context, ref, member string) error { return errMembershipStub }

// Demote makes an admin a member.
func (n *Node) Demote(ctx context.Context, ref, member string) error { return errMembershipStub }

// RenameGroup renames a group.
func (n *Node) RenameGroup(ctx context.Context, ref, name string) error { return errMembershipStub }

// SetDisplayName changes the own display name.
func (n *Node) SetDisplayName(ctx context.Context, name string) error { return errMembershipStub }

// CreateInvite creates an invite.
func (n *Node) CreateInvite(ctx context.Context, ref string, o InviteOptions) (code string, info InviteInfo, err error) {
	return "", InviteInfo{}, errMembershipStub
}

// Invites lists a group's invites.
func (n *Node) Invites(ref string) ([]InviteInfo, error) { return nil, errMembershipStub }

// RevokeInvite revokes an invite.
func (n *Node) RevokeInvite(ctx context.Context, ref, inviteID string) error {
	return errMembershipStub
}

// SafetyNumber returns the own safety number.
func (n *Node) SafetyNumber() string { return "" }
