package membership

import (
	"bytes"
	"testing"
	"time"
)

func TestInviteJoin(t *testing.T) {
	owner, alice, joiner := newID(t), newID(t), newID(t)
	l := group(t, owner, alice)
	op, secret, err := l.CreateInvite(owner, t0.Add(time.Hour), 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	tok := must[InviteToken](t)(ParseInviteToken(InviteToken{Group: l.Group(), Secret: secret}.Bytes()))
	if tok.Secret != secret || tok.Secret.Capability().ID != op.InviteID {
		t.Fatal("token round trip")
	}

	// Joiner side, then admitter side (a plain member may admit).
	ch := NewChallenge()
	req := must[JoinRequest](t)(ProveInvite(tok.Secret, tok.Group, joiner.Key(), HPKEPublic(joiner.HPKE), "joe", ch))
	wantErr(t, l.State().CheckInvite(req, NewChallenge(), t0), ErrBadInviteProof)
	forged := req
	forged.Key = newID(t).Key() // proof does not cover this key
	wantErr(t, l.State().CheckInvite(forged, ch, t0), ErrBadInviteProof)
	wrongSecret := must[JoinRequest](t)(ProveInvite(NewInviteSecret(), tok.Group, joiner.Key(), HPKEPublic(joiner.HPKE), "joe", ch))
	wantErr(t, l.State().CheckInvite(wrongSecret, ch, t0), ErrUnknownInvite)
	wantErr(t, l.State().CheckInvite(req, ch, t0.Add(2*time.Hour)), ErrInviteExpired)

	must[*Op](t)(l.Admit(alice, req, ch, t0))
	st := l.State()
	if st.Role(joiner.Key()) != RoleMember {
		t.Fatal("joiner not admitted")
	}
	if inv, _ := st.Invite(op.InviteID); inv.Uses != 1 {
		t.Fatal("use not counted")
	}
	if !bytes.Equal(secretOf(t, l, joiner), secretOf(t, l, owner)) {
		t.Fatal("joiner did not get the epoch secret")
	}

	// Used up.
	other := newID(t)
	req2 := must[JoinRequest](t)(ProveInvite(secret, l.Group(), other.Key(), HPKEPublic(other.HPKE), "o", ch))
	_, err = l.Admit(alice, req2, ch, t0)
	wantErr(t, err, ErrInviteUsedUp)

	// Revoked.
	op2, secret2, _ := l.CreateInvite(owner, t0.Add(time.Hour), 5, t0)
	must[*Op](t)(l.RevokeInvite(owner, op2.InviteID, t0))
	req3 := must[JoinRequest](t)(ProveInvite(secret2, l.Group(), other.Key(), HPKEPublic(other.HPKE), "o", ch))
	_, err = l.Admit(alice, req3, ch, t0)
	wantErr(t, err, ErrInviteRevoked)

	// Only admins create invites; members may not revoke others' invites.
	_, _, err = l.CreateInvite(alice, t0.Add(time.Hour), 1, t0)
	wantErr(t, err, ErrNotAuthorized)
	_, err = l.RevokeInvite(alice, op2.InviteID, t0)
	wantErr(t, err, ErrNotAuthorized)
	_, _, err = l.CreateInvite(owner, t0, 1, t0)
	wantErr(t, err, ErrInvalidArgument)

	for _, b := range [][]byte{nil, make([]byte, InviteTokenLen), append([]byte{2}, make([]byte, 64)...)} {
		_, err := ParseInviteToken(b)
		wantErr(t, err, ErrBadInviteCode)
	}
}

// Two members admit two joiners concurrently with a one-use invite: every
// node keeps the join ordered first and drops the other.
func TestInviteUseCountConverges(t *testing.T) { bothOrders(t, raceInviteUseCountConverges) }

func raceInviteUseCountConverges(t *testing.T) bool {
	owner, alice, j1, j2 := newID(t), newID(t), newID(t), newID(t)
	base := group(t, owner, alice)
	_, secret, err := base.CreateInvite(owner, t0.Add(time.Hour), 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	lo, la := fork(t, base), fork(t, base)
	ch := NewChallenge()
	r1 := must[JoinRequest](t)(ProveInvite(secret, base.Group(), j1.Key(), HPKEPublic(j1.HPKE), "j1", ch))
	r2 := must[JoinRequest](t)(ProveInvite(secret, base.Group(), j2.Key(), HPKEPublic(j2.HPKE), "j2", ch))
	o1 := must[*Op](t)(lo.Admit(owner, r1, ch, t0))
	o2 := must[*Op](t)(la.Admit(alice, r2, ch, t0))
	syncFrom(t, lo, la)
	syncFrom(t, la, lo)
	st := lo.State()
	if st.Digest() != la.State().Digest() {
		t.Fatal("diverge")
	}
	winner, loser, loserOp := j1, j2, o2
	first := less(o2, o2.ID(), o1, o1.ID())
	if first {
		winner, loser, loserOp = j2, j1, o1
	}
	if st.Role(winner.Key()) != RoleMember || st.Role(loser.Key()) != RoleNone {
		t.Fatal("wrong joiner kept")
	}
	if d := st.Dropped(); len(d) != 1 || d[0].ID != loserOp.ID() {
		t.Fatalf("dropped %v", d)
	} else {
		wantErr(t, d[0].Reason, ErrInviteUsedUp)
	}
	return first
}

func TestSafetyNumber(t *testing.T) {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	got := SafetyNumber(k)
	if len(got) != 23 || got != SafetyNumber(k) {
		t.Fatalf("safety number %q", got)
	}
	// Golden value: the number must never change for a key.
	if want := "99925 97254 97478 64979"; got != want {
		t.Fatalf("safety number %q, want %q", got, want)
	}
	k[0] ^= 1
	if SafetyNumber(k) == got {
		t.Fatal("different keys, same number")
	}
}
