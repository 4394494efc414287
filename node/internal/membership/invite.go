package membership

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

const domainInviteProof = "parley/membership/invite-proof/v1\x00"

// InviteSecret is the capability an invite code carries. Whoever holds it
// may ask any member to admit them while the invite is valid. It is not the
// epoch secret: it opens no message.
type InviteSecret [32]byte

// InviteCapability is what an invite secret derives: its public id and the
// Ed25519 key pair the joiner proves possession with. Only the public half
// goes into the log (invite-create op), so every member can check a proof
// and the secret never has to be shared among members.
type InviteCapability struct {
	ID     InviteID
	Public Key
	priv   ed25519.PrivateKey
}

// NewInviteSecret returns a fresh random invite secret.
func NewInviteSecret() InviteSecret {
	var s InviteSecret
	if _, err := rand.Read(s[:]); err != nil {
		panic(err)
	}
	return s
}

// Capability derives the invite id and proof key from the secret
// (HKDF-SHA256, one label each).
func (s InviteSecret) Capability() InviteCapability {
	derive := func(label string, n int) []byte {
		b, err := hkdf.Key(sha256.New, s[:], nil, "parley/membership/invite/v1/"+label, n)
		if err != nil {
			panic(err)
		}
		return b
	}
	var c InviteCapability
	copy(c.ID[:], derive("id", len(c.ID)))
	c.priv = ed25519.NewKeyFromSeed(derive("proof-key", ed25519.SeedSize))
	c.Public = KeyOf(c.priv.Public().(ed25519.PublicKey))
	return c
}

// JoinRequest is what a joiner sends to an admitting member after receiving
// its challenge: its identity and HPKE keys and its proof of the invite.
type JoinRequest struct {
	Group     GroupID
	InviteID  InviteID
	Key       Key    // joiner's Ed25519 identity key
	HPKEKey   []byte // joiner's X25519 HPKE public key
	Name      string // joiner's display name
	Challenge []byte // the admitter's challenge, echoed
	Proof     []byte
}

// NewChallenge returns a fresh challenge for a joiner to sign (admitter side).
func NewChallenge() []byte {
	c := make([]byte, 32)
	if _, err := rand.Read(c); err != nil {
		panic(err)
	}
	return c
}

// ProveInvite builds a join request (joiner side): the invite key signs the
// group, invite id, the joiner's keys and the admitter's challenge, so the
// proof cannot be replayed for other keys, groups or challenges.
func ProveInvite(secret InviteSecret, group GroupID, self Key, hpkePub []byte, name string, challenge []byte) (JoinRequest, error) {
	if len(challenge) < ChallengeMin || len(challenge) > ChallengeMax || len(hpkePub) != 32 {
		return JoinRequest{}, fmt.Errorf("%w: challenge or HPKE key size", ErrInvalidArgument)
	}
	if err := checkName(name); err != nil {
		return JoinRequest{}, err
	}
	c := secret.Capability()
	msg := inviteProofMessage(group, c.ID, self, hpkePub, challenge)
	return JoinRequest{Group: group, InviteID: c.ID, Key: self, HPKEKey: hpkePub, Name: name,
		Challenge: challenge, Proof: ed25519.Sign(c.priv, msg)}, nil
}

func inviteProofMessage(group GroupID, id InviteID, joiner Key, hpkePub, challenge []byte) []byte {
	b := append([]byte(domainInviteProof), group[:]...)
	b = append(b, id[:]...)
	b = append(b, joiner[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(hpkePub)))
	b = append(b, hpkePub...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(challenge)))
	return append(b, challenge...)
}

func verifyInviteProof(group GroupID, inv *Invite, joiner Key, hpkePub, challenge, proof []byte) bool {
	return len(proof) == ed25519.SignatureSize &&
		verify(inv.Key.PublicKey(), inviteProofMessage(group, inv.ID, joiner, hpkePub, challenge), proof)
}

// CheckInvite is the admitter's check of a join request against the current
// state at time now, before it signs a join op: the invite exists, is not
// revoked, has not expired, has uses left, the proof verifies over the
// challenge the admitter sent, and the joiner is not already a member.
func (s *State) CheckInvite(req JoinRequest, challenge []byte, now time.Time) error {
	if req.Group != s.group {
		return ErrWrongGroup
	}
	if string(req.Challenge) != string(challenge) {
		return fmt.Errorf("%w: challenge mismatch", ErrBadInviteProof)
	}
	inv, ok := s.invites[req.InviteID]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrUnknownInvite, req.InviteID)
	case inv.Revoked:
		return fmt.Errorf("%w: %s", ErrInviteRevoked, req.InviteID)
	case now.UnixMilli() > inv.Expiry:
		return fmt.Errorf("%w: %s", ErrInviteExpired, req.InviteID)
	case inv.Uses >= inv.MaxUses:
		return fmt.Errorf("%w: %s", ErrInviteUsedUp, req.InviteID)
	}
	if _, member := s.members[req.Key]; member {
		return fmt.Errorf("%w: %s is already a member", ErrPrecondition, req.Key)
	}
	if !verifyInviteProof(s.group, inv, req.Key, req.HPKEKey, req.Challenge, req.Proof) {
		return ErrBadInviteProof
	}
	return nil
}

// InviteToken is the membership part of an invite code: the group and the
// invite secret (the invite id derives from it). The node wraps it with the
// inviter's addresses. It holds no epoch secret.
type InviteToken struct {
	Group  GroupID
	Secret InviteSecret
}

const inviteTokenVersion = 1

// InviteTokenLen is the encoded size of an InviteToken.
const InviteTokenLen = 1 + 32 + 32

// Bytes encodes the token: version byte, group id, secret.
func (t InviteToken) Bytes() []byte {
	b := append([]byte{inviteTokenVersion}, t.Group[:]...)
	return append(b, t.Secret[:]...)
}

// ParseInviteToken decodes a token encoded by Bytes.
func ParseInviteToken(b []byte) (InviteToken, error) {
	var t InviteToken
	if len(b) != InviteTokenLen || b[0] != inviteTokenVersion {
		return t, fmt.Errorf("%w: %d bytes", ErrBadInviteCode, len(b))
	}
	copy(t.Group[:], b[1:33])
	copy(t.Secret[:], b[33:])
	if t.Group == (GroupID{}) || t.Secret == (InviteSecret{}) {
		return InviteToken{}, fmt.Errorf("%w: zero group or secret", ErrBadInviteCode)
	}
	return t, nil
}
