package node

import (
	"errors"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/store"
)

// Reasons a message or request from the network is refused. Each one is
// counted (see Status.Drops) and never reaches the store.
var (
	ErrOversized    = envelope.ErrOversized
	ErrMalformed    = envelope.ErrMalformed
	ErrVersion      = envelope.ErrVersion
	ErrNotMember    = envelope.ErrNotMember
	ErrWrongGroup   = envelope.ErrWrongGroup
	ErrBadSignature = envelope.ErrBadSignature
	ErrBadAuthor    = envelope.ErrBadAuthor
	ErrDuplicate    = errors.New("duplicate (replay)")
	ErrBadField     = envelope.ErrBadField
)

// Errors returned to callers of the API.
var (
	ErrInvalidInput  = envelope.ErrInvalidInput
	ErrGroupNotFound = errors.New("group not found")
	ErrAmbiguous     = errors.New("ambiguous group name")
	ErrBadInvite     = errors.New("invalid invite code")
	ErrClosed        = errors.New("node closed")
	ErrSyncDenied    = syncproto.ErrDenied
	// ErrNotStarted is returned by what needs the network before Start.
	ErrNotStarted = errors.New("node not started")
	// ErrIdentityMismatch means WithKey names a key other than the one the
	// profile's store already holds.
	ErrIdentityMismatch = errors.New("key differs from the profile's identity")

	// ErrDiskFull: the profile's disk is (nearly) full; nothing was stored.
	// Writes resume by themselves once space is freed.
	ErrDiskFull = store.ErrDiskFull

	// ErrLegacyGroup: the group was created before membership; it stays
	// readable but takes no new messages.
	ErrLegacyGroup = errors.New("group created before membership; create a new group")
	// ErrNotGroupMember: we were removed from the group or left it.
	ErrNotGroupMember = errors.New("not a member of this group (removed or left)")
	// ErrAmbiguousMember: a member reference matches several members.
	ErrAmbiguousMember = errors.New("ambiguous member")
	// ErrNoSuchMember: a member reference matches nobody.
	ErrNoSuchMember = errors.New("no such member")
	// ErrNotAuthorized: our role does not allow the change.
	ErrNotAuthorized = membership.ErrNotAuthorized
	// ErrNoSuchInvite: an invite reference matches no invite.
	ErrNoSuchInvite = errors.New("no such invite")
	// Join's refusals, as the admitting member reports them.
	ErrInviteExpired  = membership.ErrInviteExpired
	ErrInviteRevoked  = membership.ErrInviteRevoked
	ErrInviteUsedUp   = membership.ErrInviteUsedUp
	ErrUnknownInvite  = membership.ErrUnknownInvite
	ErrBadInviteProof = membership.ErrBadInviteProof
	// ErrOldInvite: a version 1 invite (it carried the group secret).
	ErrOldInvite = errors.New("old invite format (it carried the group secret); ask for a new invite")
)
