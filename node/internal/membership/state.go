package membership

import (
	"bytes"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// Member is a current member of the group.
type Member struct {
	Key   Key
	HPKE  []byte // X25519 HPKE public key the epoch secrets are sealed to
	Name  string
	Role  Role
	Added OpID // the create, add or join op that admitted this membership
	since int  // order position of Added: seniority for ownership succession
}

// Epoch is a key epoch: it starts with a create, remove or rotate op and ends
// when the next one (in the total order) starts.
type Epoch struct {
	ID      OpID // the op that started it
	Number  int  // position among epochs in the total order, 0 for genesis
	Commit  [32]byte
	Members []Key // sorted: everyone who was a member at some point during the epoch
	start   int   // order position of ID
	copies  map[Key][]sealedCopy
	members map[Key]bool
}

type sealedCopy struct {
	info, ct []byte
}

// Recipients returns, sorted, the keys that hold a sealed copy of the
// epoch's secret.
func (e *Epoch) Recipients() []Key { return sortedKeys(e.copies) }

// Invite is an invite's state as the log sees it.
type Invite struct {
	ID      InviteID
	Key     Key // verification key derived from the invite secret
	Creator Key
	Expiry  int64 // unix ms
	MaxUses uint32
	Uses    uint32
	Revoked bool
}

// Dropped is an op that is in the log but had no effect: at its place in
// the total order its author or target no longer qualified.
type Dropped struct {
	ID     OpID
	Reason error
}

// State is the membership computed from a set of ops applied in the total
// order. It is immutable once returned by Log.State.
type State struct {
	group    GroupID
	name     string
	members  map[Key]*Member
	epochs   []*Epoch
	epochIDs map[OpID]*Epoch
	invites  map[InviteID]*Invite
	dropped  []Dropped
	pos      int // ops applied (applied and dropped)
}

func newState() *State {
	return &State{members: map[Key]*Member{}, epochIDs: map[OpID]*Epoch{}, invites: map[InviteID]*Invite{}}
}

func (s *State) clone() *State {
	c := &State{group: s.group, name: s.name, pos: s.pos, members: make(map[Key]*Member, len(s.members)),
		epochIDs: make(map[OpID]*Epoch, len(s.epochs)), invites: make(map[InviteID]*Invite, len(s.invites)), dropped: slices.Clone(s.dropped)}
	for k, m := range s.members {
		mc := *m
		c.members[k] = &mc
	}
	for _, e := range s.epochs {
		ec := *e
		ec.Members = slices.Clone(e.Members)
		ec.members = maps.Clone(e.members)
		ec.copies = make(map[Key][]sealedCopy, len(e.copies))
		for k, v := range e.copies {
			ec.copies[k] = slices.Clone(v)
		}
		c.epochs = append(c.epochs, &ec)
		c.epochIDs[ec.ID] = &ec
	}
	for id, inv := range s.invites {
		ic := *inv
		c.invites[id] = &ic
	}
	return c
}

// Group is the group id (the genesis op's id).
func (s *State) Group() GroupID { return s.group }

// Name is the group's current name.
func (s *State) Name() string { return s.name }

// Member returns a current member.
func (s *State) Member(k Key) (Member, bool) {
	m, ok := s.members[k]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// Role is k's current role, RoleNone for a non-member.
func (s *State) Role(k Key) Role {
	if m, ok := s.members[k]; ok {
		return m.Role
	}
	return RoleNone
}

// Members returns the current members sorted by key.
func (s *State) Members() []Member {
	out := make([]Member, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, *m)
	}
	return sortedMembers(out)
}

// Owner returns the current owner; false once the last member has left.
func (s *State) Owner() (Member, bool) {
	for _, m := range s.members {
		if m.Role == RoleOwner {
			return *m, true
		}
	}
	return Member{}, false
}

// Current is the current epoch (the last one in the total order).
func (s *State) Current() *Epoch { return s.epochs[len(s.epochs)-1] }

// Epochs returns all epochs in order.
func (s *State) Epochs() []*Epoch { return slices.Clone(s.epochs) }

// Epoch returns an epoch by the id of the op that started it.
func (s *State) Epoch(id OpID) (*Epoch, bool) {
	e, ok := s.epochIDs[id]
	return e, ok
}

// Invite returns an invite's state.
func (s *State) Invite(id InviteID) (Invite, bool) {
	inv, ok := s.invites[id]
	if !ok {
		return Invite{}, false
	}
	return *inv, true
}

// Dropped lists the ops that had no effect, in order.
func (s *State) Dropped() []Dropped { return slices.Clone(s.dropped) }

// BelongedTo reports whether k was a member at some point during epoch.
func (s *State) BelongedTo(k Key, epoch OpID) bool {
	e, ok := s.epochIDs[epoch]
	return ok && e.members[k]
}

// IsMemberAt is the predicate the node applies to a message from author
// sealed under epoch: the author is a member now and was a member at some
// point during that epoch. So a removed member's messages are accepted while
// the node has not learnt of the removal and rejected from the moment it has,
// whatever epoch they claim; a re-admitted member is accepted again.
func (s *State) IsMemberAt(author Key, epoch OpID) bool {
	_, member := s.members[author]
	return member && s.BelongedTo(author, epoch)
}

// RotationNeeded reports whether someone who is no longer a member holds a
// sealed copy of the current epoch's secret (after a leave, or a rotation
// concurrent with a removal). The node must then issue a rotate op (see
// Rotator).
func (s *State) RotationNeeded() bool {
	for k := range s.Current().copies {
		if _, ok := s.members[k]; !ok {
			return true
		}
	}
	return false
}

// Rotator is the member expected to rotate when RotationNeeded: the most
// senior member of the highest role (ties: smallest key). Others should
// rotate themselves only if it has not done so after a while; concurrent
// rotations are harmless (the last in order wins).
func (s *State) Rotator() (Key, bool) {
	var best *Member
	for _, m := range s.members {
		if best == nil || m.Role > best.Role || (m.Role == best.Role && senior(m, best)) {
			best = m
		}
	}
	if best == nil {
		return Key{}, false
	}
	return best.Key, true
}

func senior(a, b *Member) bool {
	if a.since != b.since {
		return a.since < b.since
	}
	return bytes.Compare(a.Key[:], b.Key[:]) < 0
}

// MissingKeys returns the current members without a sealed copy of the
// current epoch's secret (admitted concurrently with a rotation, or by an
// add that sealed an older epoch). Any member holding the secret may send
// them a key-share op.
func (s *State) MissingKeys() []Member {
	cur := s.Current()
	var out []Member
	for _, m := range s.members {
		if _, ok := cur.copies[m.Key]; !ok {
			out = append(out, *m)
		}
	}
	return sortedMembers(out)
}

// OpenEpochSecret returns the secret of epoch sealed to self, checked against
// the epoch's commitment.
func (s *State) OpenEpochSecret(epoch OpID, self Key, priv hpke.PrivateKey) ([]byte, error) {
	e, ok := s.epochIDs[epoch]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownEpoch, epoch)
	}
	copies := e.copies[self]
	if len(copies) == 0 {
		return nil, fmt.Errorf("%w: epoch %s, member %s", ErrNoSealedSecret, epoch, self)
	}
	var last error
	for _, c := range copies {
		secret, err := openSealed(priv, self, c.info, c.ct)
		if err == nil && keyCommit(secret) != e.Commit {
			err = ErrBadSecret
		}
		if err == nil {
			return secret, nil
		}
		last = err
	}
	return nil, last
}

// OpenOwnSecret opens epoch's secret sealed to id with its current HPKE
// key, or with a retired one still kept.
func (s *State) OpenOwnSecret(epoch OpID, id Identity) ([]byte, error) {
	secret, err := s.OpenEpochSecret(epoch, id.Key(), id.HPKE)
	for _, k := range id.Retired {
		if err == nil {
			break
		}
		if sec, err2 := s.OpenEpochSecret(epoch, id.Key(), k); err2 == nil {
			secret, err = sec, nil
		}
	}
	return secret, err
}

// Digest is a hash of everything in the state; two nodes holding the same op
// set have the same digest.
func (s *State) Digest() [32]byte {
	h := sha256.New()
	w := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	w(s.group[:])
	w([]byte(s.name))
	for _, m := range s.Members() {
		w(m.Key[:])
		w(m.HPKE)
		w([]byte(m.Name))
		w([]byte{byte(m.Role)})
		w(m.Added[:])
	}
	for _, e := range s.epochs {
		w(e.ID[:])
		w(e.Commit[:])
		for _, k := range e.Members {
			w(k[:])
		}
		for _, k := range e.Recipients() {
			w(k[:])
			for _, c := range e.copies[k] {
				w(c.ct)
			}
		}
	}
	ids := slices.SortedFunc(maps.Keys(s.invites), func(a, b InviteID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		inv := s.invites[id]
		w(id[:])
		w(binary.BigEndian.AppendUint32(nil, inv.Uses))
		w([]byte{boolByte(inv.Revoked)})
	}
	for _, d := range s.dropped {
		w(d.ID[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func sortedMembers(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b Member) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	return out
}

func sortedKeys[V any](m map[Key]V) []Key {
	return slices.SortedFunc(maps.Keys(m), func(a, b Key) int { return bytes.Compare(a[:], b[:]) })
}
