package membership

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"time"
)

// Identity is the local member's keys: the Ed25519 identity that signs ops
// and the HPKE key epoch secrets are sealed to.
type Identity struct {
	Sign ed25519.PrivateKey
	HPKE hpke.PrivateKey
	// Retired are HPKE keys replaced by a key update but not yet deleted:
	// copies sealed to them before the update still open.
	Retired []hpke.PrivateKey
}

// Key is the identity's public key.
func (id Identity) Key() Key { return KeyOf(id.Sign.Public().(ed25519.PublicKey)) }

// NewIdentity generates fresh keys (the node derives or stores its own).
func NewIdentity() (Identity, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return Identity{}, err
	}
	h, err := NewHPKEKey()
	if err != nil {
		return Identity{}, err
	}
	return Identity{Sign: priv, HPKE: h}, nil
}

// Create makes a new group owned by id: the genesis op (epoch 0, its secret
// sealed to the owner) and a log holding it. The group id is the op's id.
func Create(id Identity, displayName, groupName string, now time.Time) (*Log, *Op, error) {
	if groupName == "" || displayName == "" {
		return nil, nil, fmt.Errorf("%w: empty name", ErrInvalidArgument)
	}
	self := Member{Key: id.Key(), HPKE: HPKEPublic(id.HPKE)}
	o := &Op{Version: Version, Author: self.Key, Time: now.UnixMilli(), Kind: KindCreate,
		HPKEKey: self.HPKE, Name: displayName, GroupName: groupName}
	secret := NewEpochSecret()
	o.KeyCommit = keyCommit(secret)
	if err := o.sealAll(secret, []Member{self}); err != nil {
		return nil, nil, err
	}
	if err := o.Sign(id.Sign); err != nil {
		return nil, nil, err
	}
	l, err := NewLog(o)
	if err != nil {
		return nil, nil, err
	}
	return l, o, nil
}

// The methods below build an op authored by id on top of the current heads,
// sign it and insert it into l. They return the op for the node to store and
// broadcast, or the error Insert gives (ErrNotAuthorized etc.), in which
// case l is unchanged.

func (l *Log) prepare(id Identity, kind Kind, now time.Time) *Op {
	o := &Op{Version: Version, Group: l.group, Author: id.Key(), Time: now.UnixMilli(), Kind: kind,
		Parents: l.Heads()}
	for _, p := range o.Parents {
		o.Lamport = max(o.Lamport, l.ops[p].Lamport)
	}
	o.Lamport++
	return o
}

func (l *Log) finish(id Identity, o *Op) (*Op, error) {
	if err := o.Sign(id.Sign); err != nil {
		return nil, err
	}
	if _, err := l.Insert(o); err != nil {
		return nil, err
	}
	return o, nil
}

// AddMember admits a member (admins and owner), sealing the current epoch
// secret to it.
func (l *Log) AddMember(id Identity, member Key, hpkePub []byte, name string, now time.Time) (*Op, error) {
	o := l.prepare(id, KindAdd, now)
	o.Subject, o.HPKEKey, o.Name = member, hpkePub, name
	return l.admit(id, o)
}

// Admit admits the holder of an invite after State.CheckInvite (any member).
// challenge is the one the admitter sent the joiner.
func (l *Log) Admit(id Identity, req JoinRequest, challenge []byte, now time.Time) (*Op, error) {
	if err := l.State().CheckInvite(req, challenge, now); err != nil {
		return nil, err
	}
	o := l.prepare(id, KindJoin, now)
	o.Subject, o.HPKEKey, o.Name = req.Key, req.HPKEKey, req.Name
	o.InviteID, o.InviteProof, o.Challenge = req.InviteID, req.Proof, req.Challenge
	return l.admit(id, o)
}

func (l *Log) admit(id Identity, o *Op) (*Op, error) {
	st := l.State()
	cur := st.Current()
	secret, err := st.OpenOwnSecret(cur.ID, id)
	if err != nil {
		return nil, err
	}
	o.Epoch = cur.ID
	if err := o.sealAll(secret, []Member{{Key: o.Subject, HPKE: o.HPKEKey}}); err != nil {
		return nil, err
	}
	return l.finish(id, o)
}

// RemoveMember removes a member and starts a new epoch whose fresh secret is
// sealed to every remaining member; it returns that secret too.
func (l *Log) RemoveMember(id Identity, member Key, now time.Time) (*Op, []byte, error) {
	o := l.prepare(id, KindRemove, now)
	o.Subject = member
	var rest []Member
	for _, m := range l.State().Members() {
		if m.Key != member {
			rest = append(rest, m)
		}
	}
	return l.newEpoch(id, o, rest)
}

// Rotate starts a new epoch for the current members (after a leave, or when
// RotationNeeded) and returns its secret.
func (l *Log) Rotate(id Identity, now time.Time) (*Op, []byte, error) {
	return l.newEpoch(id, l.prepare(id, KindRotate, now), l.State().Members())
}

func (l *Log) newEpoch(id Identity, o *Op, recipients []Member) (*Op, []byte, error) {
	if len(recipients) > MaxSealed {
		return nil, nil, fmt.Errorf("%w: %d members", ErrInvalidArgument, len(recipients))
	}
	secret := NewEpochSecret()
	o.KeyCommit = keyCommit(secret)
	if err := o.sealAll(secret, recipients); err != nil {
		return nil, nil, err
	}
	o, err := l.finish(id, o)
	if err != nil {
		return nil, nil, err
	}
	return o, secret, nil
}

// ShareKey seals the current epoch's secret to the members listed by
// State.MissingKeys.
func (l *Log) ShareKey(id Identity, now time.Time) (*Op, error) {
	st := l.State()
	missing := st.MissingKeys()
	if len(missing) == 0 {
		return nil, fmt.Errorf("%w: nobody lacks the current epoch secret", ErrPrecondition)
	}
	missing = missing[:min(len(missing), MaxSealed)]
	secret, err := st.OpenOwnSecret(st.Current().ID, id)
	if err != nil {
		return nil, err
	}
	o := l.prepare(id, KindKeyShare, now)
	o.Epoch = st.Current().ID
	if err := o.sealAll(secret, missing); err != nil {
		return nil, err
	}
	return l.finish(id, o)
}

// Leave removes id from the group. The remaining members must rotate
// (State.RotationNeeded becomes true).
func (l *Log) Leave(id Identity, now time.Time) (*Op, error) {
	return l.finish(id, l.prepare(id, KindLeave, now))
}

// Promote makes a member an admin (admins, owner), or with RoleOwner hands
// the ownership over (owner only; the old owner becomes an admin).
func (l *Log) Promote(id Identity, member Key, role Role, now time.Time) (*Op, error) {
	o := l.prepare(id, KindPromote, now)
	o.Subject, o.Role = member, role
	return l.finish(id, o)
}

// Demote makes an admin a member (owner only).
func (l *Log) Demote(id Identity, member Key, now time.Time) (*Op, error) {
	o := l.prepare(id, KindDemote, now)
	o.Subject = member
	return l.finish(id, o)
}

// Rename renames the group (admins, owner).
func (l *Log) Rename(id Identity, name string, now time.Time) (*Op, error) {
	o := l.prepare(id, KindRename, now)
	o.GroupName = name
	return l.finish(id, o)
}

// SetProfile changes id's own display name.
func (l *Log) SetProfile(id Identity, name string, now time.Time) (*Op, error) {
	o := l.prepare(id, KindProfile, now)
	o.Name = name
	return l.finish(id, o)
}

// UpdateKey announces id's new HPKE public key: epochs started after it
// are sealed to it, so the old private key can be deleted once the epochs
// sealed to it are over (forward secrecy, docs/crypto.md).
func (l *Log) UpdateKey(id Identity, hpkePub []byte, now time.Time) (*Op, error) {
	o := l.prepare(id, KindKeyUpdate, now)
	o.HPKEKey = hpkePub
	return l.finish(id, o)
}

// CreateInvite registers a new invite (admins, owner) valid until expiry for
// maxUses joins, and returns its secret for the invite code.
func (l *Log) CreateInvite(id Identity, expiry time.Time, maxUses uint32, now time.Time) (*Op, InviteSecret, error) {
	if maxUses == 0 || !expiry.After(now) {
		return nil, InviteSecret{}, fmt.Errorf("%w: invite needs uses and a future expiry", ErrInvalidArgument)
	}
	secret := NewInviteSecret()
	c := secret.Capability()
	o := l.prepare(id, KindInviteCreate, now)
	o.InviteID, o.InviteKey, o.InviteExpiry, o.InviteMaxUses = c.ID, c.Public, expiry.UnixMilli(), maxUses
	o, err := l.finish(id, o)
	if err != nil {
		return nil, InviteSecret{}, err
	}
	return o, secret, nil
}

// RevokeInvite revokes an invite (its creator, admins, owner).
func (l *Log) RevokeInvite(id Identity, invite InviteID, now time.Time) (*Op, error) {
	o := l.prepare(id, KindInviteRevoke, now)
	o.InviteID = invite
	return l.finish(id, o)
}
