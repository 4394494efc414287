package membership

import "errors"

// Sentinel errors; callers test them with errors.Is (they are wrapped with
// detail).
var (
	ErrMalformed       = errors.New("membership: malformed operation")
	ErrBadVersion      = errors.New("membership: unknown operation version")
	ErrBadSignature    = errors.New("membership: bad signature")
	ErrWrongGroup      = errors.New("membership: operation belongs to another group")
	ErrUnknownParent   = errors.New("membership: unknown parent operation")
	ErrBadLamport      = errors.New("membership: lamport clock is not 1 + max(parents)")
	ErrNotAuthorized   = errors.New("membership: author not authorized")
	ErrNotMember       = errors.New("membership: not a member")
	ErrPrecondition    = errors.New("membership: operation does not apply to the current state")
	ErrUnknownEpoch    = errors.New("membership: unknown epoch")
	ErrNoSealedSecret  = errors.New("membership: no epoch secret sealed to this member")
	ErrBadSecret       = errors.New("membership: epoch secret does not match its commitment")
	ErrUnknownInvite   = errors.New("membership: unknown invite")
	ErrInviteExpired   = errors.New("membership: invite expired")
	ErrInviteRevoked   = errors.New("membership: invite revoked")
	ErrInviteUsedUp    = errors.New("membership: invite already used up")
	ErrBadInviteProof  = errors.New("membership: bad invite proof")
	ErrBadInviteCode   = errors.New("membership: bad invite code")
	ErrTooFarAhead     = errors.New("membership: message index beyond the skip window")
	ErrKeyGone         = errors.New("membership: message key already used or deleted")
	ErrInvalidArgument = errors.New("membership: invalid argument")
)
