package node

import "errors"

// Reasons a message or request from the network is refused. Each one is
// counted (see Status.Drops) and never reaches the store.
var (
	ErrOversized    = errors.New("oversized")
	ErrMalformed    = errors.New("malformed")
	ErrVersion      = errors.New("unsupported version")
	ErrNotMember    = errors.New("not a member: cannot decrypt")
	ErrWrongGroup   = errors.New("message belongs to another group")
	ErrBadSignature = errors.New("bad signature")
	ErrBadAuthor    = errors.New("unsupported author key")
	ErrDuplicate    = errors.New("duplicate (replay)")
	ErrBadField     = errors.New("field out of range")
)

// Errors returned to callers of the API.
var (
	ErrInvalidInput  = errors.New("invalid input")
	ErrGroupNotFound = errors.New("group not found")
	ErrAmbiguous     = errors.New("ambiguous group name")
	ErrBadInvite     = errors.New("invalid invite code")
	ErrClosed        = errors.New("node closed")
	ErrSyncDenied    = errors.New("sync denied: peer is not a member of the group")
)
