package membership

import (
	"bytes"
	"fmt"
	"slices"
)

// step applies o at the next position of the total order; an op whose
// preconditions do not hold there is recorded as dropped and has no effect.
func (s *State) step(o *Op, id OpID) {
	if err := s.apply(o, id); err != nil {
		s.dropped = append(s.dropped, Dropped{ID: id, Reason: err})
	}
	s.pos++
}

// apply checks o's preconditions against s and, only if they all hold,
// mutates s. The rules are those of docs/membership.md.
func (s *State) apply(o *Op, id OpID) error {
	if o.Kind == KindCreate {
		if s.pos != 0 {
			return fmt.Errorf("%w: second genesis", ErrPrecondition)
		}
		s.group = id
		s.name = o.GroupName
		s.members[o.Author] = &Member{Key: o.Author, HPKE: o.HPKEKey, Name: o.Name, Role: RoleOwner, Added: id}
		s.startEpoch(o, id)
		return nil
	}
	author, ok := s.members[o.Author]
	if !ok {
		return fmt.Errorf("%w: author %s", ErrNotMember, o.Author)
	}
	need := func(r Role) error {
		if author.Role < r {
			return fmt.Errorf("%w: %s needs %s, author %s is %s", ErrNotAuthorized, o.Kind, r, o.Author, author.Role)
		}
		return nil
	}
	subject := s.members[o.Subject] // nil if not a member (or no subject)
	switch o.Kind {
	case KindAdd, KindJoin:
		if subject != nil {
			return fmt.Errorf("%w: %s is already a member", ErrPrecondition, o.Subject)
		}
		if _, ok := s.epochIDs[o.Epoch]; !ok {
			return fmt.Errorf("%w: %s", ErrUnknownEpoch, o.Epoch)
		}
		if o.Kind == KindAdd {
			if err := need(RoleAdmin); err != nil {
				return err
			}
		} else {
			inv, err := s.checkJoin(o)
			if err != nil {
				return err
			}
			inv.Uses++
		}
		s.members[o.Subject] = &Member{Key: o.Subject, HPKE: o.HPKEKey, Name: o.Name, Role: RoleMember, Added: id, since: s.pos}
		s.Current().addMember(o.Subject)
		s.addCopies(s.epochIDs[o.Epoch], o)
	case KindRemove:
		if subject == nil {
			return fmt.Errorf("%w: %s is not a member", ErrPrecondition, o.Subject)
		}
		if subject.Role == RoleOwner || (author.Role != RoleOwner && subject.Role >= author.Role) ||
			author.Role < RoleAdmin {
			return fmt.Errorf("%w: %s may not remove %s %s", ErrNotAuthorized, author.Role, subject.Role, o.Subject)
		}
		delete(s.members, o.Subject)
		s.startEpoch(o, id)
	case KindLeave:
		delete(s.members, o.Author)
		if author.Role == RoleOwner {
			s.passOwnership()
		}
	case KindPromote:
		if subject == nil {
			return fmt.Errorf("%w: %s is not a member", ErrPrecondition, o.Subject)
		}
		if o.Role == RoleOwner {
			if err := need(RoleOwner); err != nil {
				return err
			}
			subject.Role, author.Role = RoleOwner, RoleAdmin
			break
		}
		if err := need(RoleAdmin); err != nil {
			return err
		}
		if subject.Role != RoleMember {
			return fmt.Errorf("%w: %s is already %s", ErrPrecondition, o.Subject, subject.Role)
		}
		subject.Role = RoleAdmin
	case KindDemote:
		if err := need(RoleOwner); err != nil {
			return err
		}
		if subject == nil || subject.Role != RoleAdmin {
			return fmt.Errorf("%w: %s is not an admin", ErrPrecondition, o.Subject)
		}
		subject.Role = RoleMember
	case KindRename:
		if err := need(RoleAdmin); err != nil {
			return err
		}
		s.name = o.GroupName
	case KindProfile:
		author.Name = o.Name
	case KindKeyUpdate:
		// Later epochs are sealed to the new key; copies already sealed
		// to the old one stay openable while its owner keeps that key.
		author.HPKE = o.HPKEKey
	case KindInviteCreate:
		if err := need(RoleAdmin); err != nil {
			return err
		}
		if _, dup := s.invites[o.InviteID]; dup {
			return fmt.Errorf("%w: invite %s exists", ErrPrecondition, o.InviteID)
		}
		s.invites[o.InviteID] = &Invite{ID: o.InviteID, Key: o.InviteKey, Creator: o.Author,
			Expiry: o.InviteExpiry, MaxUses: o.InviteMaxUses}
	case KindInviteRevoke:
		inv, ok := s.invites[o.InviteID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownInvite, o.InviteID)
		}
		if inv.Creator != o.Author {
			if err := need(RoleAdmin); err != nil {
				return err
			}
		}
		inv.Revoked = true
	case KindRotate:
		s.startEpoch(o, id)
	case KindKeyShare:
		e, ok := s.epochIDs[o.Epoch]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownEpoch, o.Epoch)
		}
		if !e.members[o.Author] {
			return fmt.Errorf("%w: %s did not belong to epoch %s", ErrNotMember, o.Author, o.Epoch)
		}
		for _, c := range o.Sealed {
			if !e.members[c.Recipient] {
				return fmt.Errorf("%w: key share to %s, not in epoch %s", ErrPrecondition, c.Recipient, o.Epoch)
			}
		}
		s.addCopies(e, o)
	default:
		return fmt.Errorf("%w: kind %d", ErrMalformed, o.Kind)
	}
	return nil
}

// checkJoin checks a join's invite at this point of the order: it exists,
// is not revoked, had not expired at the op's time, has uses left, and the
// joiner's proof verifies with the invite key.
func (s *State) checkJoin(o *Op) (*Invite, error) {
	inv, ok := s.invites[o.InviteID]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s", ErrUnknownInvite, o.InviteID)
	case inv.Revoked:
		return nil, fmt.Errorf("%w: %s", ErrInviteRevoked, o.InviteID)
	case o.Time > inv.Expiry:
		return nil, fmt.Errorf("%w: %s", ErrInviteExpired, o.InviteID)
	case inv.Uses >= inv.MaxUses:
		return nil, fmt.Errorf("%w: %s", ErrInviteUsedUp, o.InviteID)
	}
	if !verifyInviteProof(s.group, inv, o.Subject, o.HPKEKey, o.Challenge, o.InviteProof) {
		return nil, ErrBadInviteProof
	}
	return inv, nil
}

// startEpoch begins a new epoch with the current members.
func (s *State) startEpoch(o *Op, id OpID) {
	e := &Epoch{ID: id, Number: len(s.epochs), Commit: o.KeyCommit, start: s.pos,
		copies: map[Key][]sealedCopy{}, members: map[Key]bool{}}
	for k := range s.members {
		e.addMember(k)
	}
	s.epochs = append(s.epochs, e)
	s.epochIDs[id] = e
	s.addCopies(e, o)
}

func (e *Epoch) addMember(k Key) {
	if e.members[k] {
		return
	}
	e.members[k] = true
	i, _ := slices.BinarySearchFunc(e.Members, k, func(a, b Key) int { return bytes.Compare(a[:], b[:]) })
	e.Members = slices.Insert(e.Members, i, k)
}

func (s *State) addCopies(e *Epoch, o *Op) {
	if len(o.Sealed) == 0 {
		return
	}
	info := o.sealContext()
	for _, c := range o.Sealed {
		e.copies[c.Recipient] = append(e.copies[c.Recipient], sealedCopy{info: info, ct: c.Ciphertext})
	}
}

// passOwnership makes the most senior admin the owner, or failing that the
// most senior member; nobody if the group is now empty.
func (s *State) passOwnership() {
	var best *Member
	for _, m := range s.members {
		if best == nil || m.Role > best.Role || (m.Role == best.Role && senior(m, best)) {
			best = m
		}
	}
	if best != nil {
		best.Role = RoleOwner
	}
}
