package node

import (
	"errors"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
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
)
