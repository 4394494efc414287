package membership

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Version is the only op format version this package reads and writes.
const Version = 1

// Limits enforced by the decoder and by Validate, so a hostile op cannot make
// a node allocate or loop without bound.
const (
	MaxOpSize     = 1 << 18 // bytes of an encoded op
	MaxParents    = 64
	MaxSealed     = 1024 // sealed copies in one op, hence members per rotation
	MaxNameLen    = 128  // bytes of a display or group name
	ChallengeMin  = 16
	ChallengeMax  = 64
	sealedCTLen   = 32 + SecretLen + 16 // HPKE enc || ChaCha20-Poly1305(secret)
	domainOp      = "parley/membership/op/v1\x00"
	domainOpID    = "parley/membership/op-id/v1\x00"
	domainSealCtx = "parley/membership/seal/v1\x00"
)

// OpID identifies an op: SHA-256 of its signed bytes and signature.
type OpID [32]byte

// GroupID identifies a group: the OpID of its genesis (create) op.
type GroupID = OpID

// Key is a member's Ed25519 public key, the member's identity.
type Key [32]byte

// InviteID names an invite inside a group.
type InviteID [16]byte

func (id OpID) String() string    { return hex.EncodeToString(id[:8]) }
func (k Key) String() string      { return hex.EncodeToString(k[:8]) }
func (i InviteID) String() string { return hex.EncodeToString(i[:]) }

// PublicKey returns k as an ed25519.PublicKey.
func (k Key) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(k[:]) }

// KeyOf returns the Key of an Ed25519 public key.
func KeyOf(pub ed25519.PublicKey) Key {
	var k Key
	copy(k[:], pub)
	return k
}

// Kind is an op's type.
type Kind uint16

// Op kinds. Numbers are part of the signed encoding: never renumber.
const (
	KindCreate       Kind = 1  // genesis: the author is the owner, epoch 0 starts
	KindAdd          Kind = 2  // an admin or the owner admits a member
	KindJoin         Kind = 3  // any member admits the holder of an invite
	KindRemove       Kind = 4  // removes a member, starts an epoch
	KindLeave        Kind = 5  // the author leaves
	KindPromote      Kind = 6  // member -> admin, or (owner only) hand over ownership
	KindDemote       Kind = 7  // admin -> member
	KindRename       Kind = 8  // new group name
	KindProfile      Kind = 9  // the author's new display name
	KindInviteCreate Kind = 10 // registers an invite capability
	KindInviteRevoke Kind = 11 // revokes an invite
	KindRotate       Kind = 12 // starts an epoch without removing anyone
	KindKeyShare     Kind = 13 // seals an existing epoch's secret to members who lack it
	KindKeyUpdate    Kind = 14 // the author's new HPKE public key (forward secrecy: old keys are deleted)
	kindMax               = KindKeyUpdate
)

var kindNames = [...]string{"", "create", "add", "join", "remove", "leave", "promote", "demote",
	"rename", "profile", "invite-create", "invite-revoke", "rotate", "key-share", "key-update"}

func (k Kind) String() string {
	if k >= 1 && k <= kindMax {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// Role is a member's rank. Higher is stronger.
type Role uint8

// Roles.
const (
	RoleNone   Role = 0
	RoleMember Role = 1
	RoleAdmin  Role = 2
	RoleOwner  Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleAdmin:
		return "admin"
	case RoleOwner:
		return "owner"
	}
	return "none"
}

// Sealed is an epoch secret sealed with HPKE to one member.
type Sealed struct {
	Recipient  Key
	Ciphertext []byte // HPKE enc || AEAD ciphertext
}

// Op is one membership operation. Which payload fields are set depends on
// Kind (see docs/membership.md); Validate rejects any other field.
type Op struct {
	Version uint32
	Group   GroupID // zero in the genesis op
	Author  Key
	Lamport uint64
	Parents []OpID // strictly ascending
	Time    int64  // author's clock, unix ms; informative except for invite expiry
	Kind    Kind

	Subject       Key    // add, join, remove, promote, demote
	HPKEKey       []byte // create, add, join: the member's X25519 HPKE public key
	Name          string // create, add, join, profile: display name
	GroupName     string // create, rename
	Role          Role   // promote: RoleAdmin or RoleOwner
	InviteID      InviteID
	InviteExpiry  int64  // invite-create: unix ms
	InviteMaxUses uint32 // invite-create
	InviteKey     Key    // invite-create: Ed25519 key derived from the invite secret
	InviteProof   []byte // join: signature by the invite key
	Challenge     []byte // join: admitter's challenge covered by the proof
	Epoch         OpID   // add, join, key-share: the epoch whose secret is sealed
	KeyCommit     [32]byte
	Sealed        []Sealed // sorted by recipient, unique

	Signature []byte
}

// field bits, for the per-kind shape check.
const (
	fSubject = 1 << iota
	fHPKE
	fName
	fGroupName
	fRole
	fInviteID
	fInviteExpiry
	fInviteMaxUses
	fInviteKey
	fInviteProof
	fChallenge
	fEpoch
	fKeyCommit
	fSealed
)

// shapes lists, per kind, exactly the payload fields the kind carries.
var shapes = map[Kind]int{
	KindCreate:       fHPKE | fName | fGroupName | fKeyCommit | fSealed,
	KindAdd:          fSubject | fHPKE | fName | fEpoch | fSealed,
	KindJoin:         fSubject | fHPKE | fName | fEpoch | fSealed | fInviteID | fInviteProof | fChallenge,
	KindRemove:       fSubject | fKeyCommit | fSealed,
	KindLeave:        0,
	KindPromote:      fSubject | fRole,
	KindDemote:       fSubject,
	KindRename:       fGroupName,
	KindProfile:      fName,
	KindInviteCreate: fInviteID | fInviteExpiry | fInviteMaxUses | fInviteKey,
	KindInviteRevoke: fInviteID,
	KindRotate:       fKeyCommit | fSealed,
	KindKeyShare:     fEpoch | fSealed,
	KindKeyUpdate:    fHPKE,
}

func (o *Op) present() int {
	var m int
	set := func(b bool, bit int) {
		if b {
			m |= bit
		}
	}
	set(o.Subject != Key{}, fSubject)
	set(len(o.HPKEKey) > 0, fHPKE)
	set(o.Name != "", fName)
	set(o.GroupName != "", fGroupName)
	set(o.Role != RoleNone, fRole)
	set(o.InviteID != InviteID{}, fInviteID)
	set(o.InviteExpiry != 0, fInviteExpiry)
	set(o.InviteMaxUses != 0, fInviteMaxUses)
	set(o.InviteKey != Key{}, fInviteKey)
	set(len(o.InviteProof) > 0, fInviteProof)
	set(len(o.Challenge) > 0, fChallenge)
	set(o.Epoch != OpID{}, fEpoch)
	set(o.KeyCommit != [32]byte{}, fKeyCommit)
	set(len(o.Sealed) > 0, fSealed)
	return m
}

// Validate checks everything about o that needs no other op: version, shape
// of the payload for its kind, lengths, ordering of lists, signature. It does
// not check authorization (that needs the log).
func (o *Op) Validate() error {
	if o.Version != Version {
		return fmt.Errorf("%w: %d", ErrBadVersion, o.Version)
	}
	want, ok := shapes[o.Kind]
	if !ok {
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, o.Kind)
	}
	if got := o.present(); got != want {
		return fmt.Errorf("%w: %s op with fields %#x, want %#x", ErrMalformed, o.Kind, got, want)
	}
	genesis := o.Kind == KindCreate
	if genesis != (o.Group == GroupID{}) || genesis != (len(o.Parents) == 0) || (genesis && o.Lamport != 0) {
		return fmt.Errorf("%w: only the genesis op has no group, no parents and lamport 0", ErrMalformed)
	}
	if len(o.Parents) > MaxParents {
		return fmt.Errorf("%w: %d parents", ErrMalformed, len(o.Parents))
	}
	for i := 1; i < len(o.Parents); i++ {
		if bytes.Compare(o.Parents[i-1][:], o.Parents[i][:]) >= 0 {
			return fmt.Errorf("%w: parents not strictly ascending", ErrMalformed)
		}
	}
	if len(o.HPKEKey) != 0 && len(o.HPKEKey) != 32 {
		return fmt.Errorf("%w: HPKE key of %d bytes", ErrMalformed, len(o.HPKEKey))
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	if err := checkName(o.GroupName); err != nil {
		return err
	}
	if o.Kind == KindPromote && o.Role != RoleAdmin && o.Role != RoleOwner {
		return fmt.Errorf("%w: promote to %s", ErrMalformed, o.Role)
	}
	if len(o.InviteProof) != 0 && len(o.InviteProof) != ed25519.SignatureSize {
		return fmt.Errorf("%w: invite proof of %d bytes", ErrMalformed, len(o.InviteProof))
	}
	if len(o.Challenge) != 0 && (len(o.Challenge) < ChallengeMin || len(o.Challenge) > ChallengeMax) {
		return fmt.Errorf("%w: challenge of %d bytes", ErrMalformed, len(o.Challenge))
	}
	if len(o.Sealed) > MaxSealed {
		return fmt.Errorf("%w: %d sealed secrets", ErrMalformed, len(o.Sealed))
	}
	for i, s := range o.Sealed {
		if len(s.Ciphertext) != sealedCTLen {
			return fmt.Errorf("%w: sealed secret of %d bytes", ErrMalformed, len(s.Ciphertext))
		}
		if i > 0 && bytes.Compare(o.Sealed[i-1].Recipient[:], s.Recipient[:]) >= 0 {
			return fmt.Errorf("%w: sealed recipients not strictly ascending", ErrMalformed)
		}
	}
	switch o.Kind {
	case KindCreate:
		if len(o.Sealed) != 1 || o.Sealed[0].Recipient != o.Author {
			return fmt.Errorf("%w: genesis must seal epoch 0 to its author only", ErrMalformed)
		}
	case KindAdd, KindJoin:
		if len(o.Sealed) != 1 || o.Sealed[0].Recipient != o.Subject {
			return fmt.Errorf("%w: %s must seal the epoch secret to the new member only", ErrMalformed, o.Kind)
		}
	}
	if o.Kind == KindAdd || o.Kind == KindJoin || o.Kind == KindRemove || o.Kind == KindPromote || o.Kind == KindDemote {
		if o.Subject == o.Author {
			return fmt.Errorf("%w: %s aimed at its own author", ErrMalformed, o.Kind)
		}
	}
	if len(o.Signature) != ed25519.SignatureSize || !verify(o.Author.PublicKey(), o.SignedBytes(), o.Signature) {
		return ErrBadSignature
	}
	return nil
}

func checkName(s string) error {
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: name of %d bytes", ErrMalformed, len(s))
	}
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 || r == 0x7F {
			return fmt.Errorf("%w: name holds invalid UTF-8 or a control character", ErrMalformed)
		}
	}
	return nil
}

// Sign sets o.Signature with priv, whose public key must be o.Author.
func (o *Op) Sign(priv ed25519.PrivateKey) error {
	if KeyOf(priv.Public().(ed25519.PublicKey)) != o.Author {
		return fmt.Errorf("%w: signing key is not the author's", ErrInvalidArgument)
	}
	o.Signature = ed25519.Sign(priv, o.SignedBytes())
	return nil
}

// SignedBytes is the canonical, domain-separated encoding the signature
// covers: fixed field order, fixed-width integers, length-prefixed strings.
// It is computed from the decoded fields, so any transport encoding of the
// same op yields the same bytes and the same id.
func (o *Op) SignedBytes() []byte { return o.canonical(true) }

// ID is SHA-256 over the signed bytes and the signature.
func (o *Op) ID() OpID {
	h := sha256.New()
	h.Write([]byte(domainOpID))
	h.Write(o.SignedBytes())
	h.Write(o.Signature)
	var id OpID
	h.Sum(id[:0])
	return id
}

// sealContext binds an epoch secret sealed inside o to everything else in o
// (group, author, parents, kind, epoch, commitment); it is the HPKE info.
func (o *Op) sealContext() []byte {
	sum := sha256.Sum256(o.canonical(false))
	return append([]byte(domainSealCtx), sum[:]...)
}

func (o *Op) canonical(withSealed bool) []byte {
	b := make([]byte, 0, 512+len(o.Sealed)*(32+4+sealedCTLen))
	lp := func(p []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	b = append(b, domainOp...)
	b = binary.BigEndian.AppendUint32(b, o.Version)
	b = append(b, o.Group[:]...)
	b = append(b, o.Author[:]...)
	b = binary.BigEndian.AppendUint64(b, o.Lamport)
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.Parents)))
	for _, p := range o.Parents {
		b = append(b, p[:]...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(o.Time))
	b = binary.BigEndian.AppendUint16(b, uint16(o.Kind))
	b = append(b, o.Subject[:]...)
	lp(o.HPKEKey)
	lp([]byte(o.Name))
	lp([]byte(o.GroupName))
	b = append(b, byte(o.Role))
	b = append(b, o.InviteID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(o.InviteExpiry))
	b = binary.BigEndian.AppendUint32(b, o.InviteMaxUses)
	b = append(b, o.InviteKey[:]...)
	lp(o.InviteProof)
	lp(o.Challenge)
	b = append(b, o.Epoch[:]...)
	b = append(b, o.KeyCommit[:]...)
	if withSealed {
		b = binary.BigEndian.AppendUint16(b, uint16(len(o.Sealed)))
		for _, s := range o.Sealed {
			b = append(b, s.Recipient[:]...)
			lp(s.Ciphertext)
		}
	}
	return b
}
