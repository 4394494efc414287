package membership

import (
	"bytes"
	"testing"
)

func TestRolesAndPermissions(t *testing.T) {
	owner, alice, bob, carol := newID(t), newID(t), newID(t), newID(t)
	l := group(t, owner, alice)
	st := l.State()
	if st.Role(owner.Key()) != RoleOwner || st.Role(alice.Key()) != RoleMember || st.Name() != "group" {
		t.Fatal("genesis state wrong")
	}
	if st.Group() != l.Ops()[0].ID() {
		t.Fatal("group id is not the genesis op id")
	}

	_, err := l.AddMember(alice, bob.Key(), HPKEPublic(bob.HPKE), "bob", t0)
	wantErr(t, err, ErrNotAuthorized)
	_, err = l.Rename(alice, "mine", t0)
	wantErr(t, err, ErrNotAuthorized)
	_, err = l.Promote(alice, alice.Key(), RoleAdmin, t0)
	wantErr(t, err, ErrMalformed) // aimed at itself
	_, _, err = l.RemoveMember(alice, owner.Key(), t0)
	wantErr(t, err, ErrNotAuthorized)

	must[*Op](t)(l.Promote(owner, alice.Key(), RoleAdmin, t0))
	must[*Op](t)(l.AddMember(alice, bob.Key(), HPKEPublic(bob.HPKE), "bob", t0))
	must[*Op](t)(l.AddMember(alice, carol.Key(), HPKEPublic(carol.HPKE), "carol", t0))
	_, err = l.AddMember(alice, bob.Key(), HPKEPublic(bob.HPKE), "bob", t0)
	wantErr(t, err, ErrPrecondition)
	must[*Op](t)(l.Promote(alice, bob.Key(), RoleAdmin, t0))
	_, _, err = l.RemoveMember(alice, bob.Key(), t0) // admin vs admin
	wantErr(t, err, ErrNotAuthorized)
	_, _, err = l.RemoveMember(alice, owner.Key(), t0)
	wantErr(t, err, ErrNotAuthorized)
	_, err = l.Demote(alice, bob.Key(), t0) // only the owner demotes
	wantErr(t, err, ErrNotAuthorized)
	_, err = l.Promote(alice, carol.Key(), RoleOwner, t0)
	wantErr(t, err, ErrNotAuthorized)

	if _, _, err := l.RemoveMember(alice, carol.Key(), t0); err != nil {
		t.Fatal(err)
	}
	_, err = l.SetProfile(carol, "ghost", t0)
	wantErr(t, err, ErrNotMember)
	must[*Op](t)(l.Demote(owner, bob.Key(), t0))
	must[*Op](t)(l.SetProfile(bob, "Robert", t0))
	must[*Op](t)(l.Rename(alice, "renamed", t0))

	st = l.State()
	if m, _ := st.Member(bob.Key()); m.Role != RoleMember || m.Name != "Robert" {
		t.Fatalf("bob %+v", m)
	}
	if _, ok := st.Member(carol.Key()); ok || st.Name() != "renamed" || len(st.Members()) != 3 {
		t.Fatal("state after removal wrong")
	}
	if len(st.Dropped()) != 0 {
		t.Fatalf("dropped %v", st.Dropped())
	}

	// Ownership hand-over: the old owner becomes an admin.
	must[*Op](t)(l.Promote(owner, bob.Key(), RoleOwner, t0))
	if l.State().Role(bob.Key()) != RoleOwner || l.State().Role(owner.Key()) != RoleAdmin {
		t.Fatal("ownership not handed over")
	}
}

func TestEpochOnRemove(t *testing.T) {
	owner, alice, bob := newID(t), newID(t), newID(t)
	l := group(t, owner, alice, bob)
	e0 := l.State().Current()
	s0o, s0a, s0b := secretOf(t, l, owner), secretOf(t, l, alice), secretOf(t, l, bob)
	if !bytes.Equal(s0o, s0a) || !bytes.Equal(s0o, s0b) || e0.Number != 0 {
		t.Fatal("members disagree on epoch 0")
	}
	_, secret, err := l.RemoveMember(owner, bob.Key(), t0)
	if err != nil {
		t.Fatal(err)
	}
	st := l.State()
	e1 := st.Current()
	if e1.Number != 1 || bytes.Equal(secret, s0o) {
		t.Fatal("no new epoch")
	}
	if !bytes.Equal(secretOf(t, l, alice), secret) || !bytes.Equal(secretOf(t, l, owner), secret) {
		t.Fatal("remaining members do not get the new secret")
	}
	_, err = st.OpenEpochSecret(e1.ID, bob.Key(), bob.HPKE)
	wantErr(t, err, ErrNoSealedSecret)
	_, err = st.OpenEpochSecret(e1.ID, alice.Key(), bob.HPKE) // wrong private key
	wantErr(t, err, ErrBadSecret)
	_, err = st.OpenEpochSecret(OpID{9}, alice.Key(), alice.HPKE)
	wantErr(t, err, ErrUnknownEpoch)
	if st.RotationNeeded() || len(st.MissingKeys()) != 0 {
		t.Fatal("clean removal flags a problem")
	}

	// Message predicate: bob's messages under epoch 0 are rejected now that
	// his removal is known; alice's are accepted under both epochs.
	if st.IsMemberAt(bob.Key(), e0.ID) || st.IsMemberAt(bob.Key(), e1.ID) || !st.BelongedTo(bob.Key(), e0.ID) {
		t.Fatal("removed member still accepted")
	}
	if !st.IsMemberAt(alice.Key(), e0.ID) || !st.IsMemberAt(alice.Key(), e1.ID) {
		t.Fatal("member rejected")
	}
	// Re-admitted: accepted again under the epochs it belonged to.
	must[*Op](t)(l.AddMember(owner, bob.Key(), HPKEPublic(bob.HPKE), "bob", t0))
	st = l.State()
	if !st.IsMemberAt(bob.Key(), e1.ID) || !st.IsMemberAt(bob.Key(), e0.ID) || st.IsMemberAt(bob.Key(), OpID{1}) {
		t.Fatal("re-admitted member: wrong epochs")
	}
	if !bytes.Equal(secretOf(t, l, bob), secret) {
		t.Fatal("re-admitted member lacks the current secret")
	}
}

func TestLeaveAndSuccession(t *testing.T) {
	owner, alice, bob, carol := newID(t), newID(t), newID(t), newID(t)
	l := group(t, owner, alice, bob, carol)
	must[*Op](t)(l.Promote(owner, carol.Key(), RoleAdmin, t0))
	must[*Op](t)(l.Promote(owner, bob.Key(), RoleAdmin, t0))
	must[*Op](t)(l.Leave(owner, t0))
	st := l.State()
	// bob and carol are admins; bob was admitted first.
	if st.Role(bob.Key()) != RoleOwner || st.Role(carol.Key()) != RoleAdmin {
		t.Fatalf("succession: bob %s carol %s", st.Role(bob.Key()), st.Role(carol.Key()))
	}
	if !st.RotationNeeded() {
		t.Fatal("leave does not ask for a rotation")
	}
	if r, _ := st.Rotator(); r != bob.Key() {
		t.Fatal("rotator is not the new owner")
	}
	_, secret, err := l.Rotate(bob, t0)
	if err != nil {
		t.Fatal(err)
	}
	if l.State().RotationNeeded() || !bytes.Equal(secretOf(t, l, alice), secret) {
		t.Fatal("rotation did not settle")
	}
	// Without admins the most senior member inherits; the last one leaves an empty group.
	must[*Op](t)(l.Leave(bob, t0))
	must[*Op](t)(l.Leave(carol, t0))
	if l.State().Role(alice.Key()) != RoleOwner {
		t.Fatal("last member did not inherit")
	}
	must[*Op](t)(l.Leave(alice, t0))
	if _, ok := l.State().Owner(); ok || len(l.State().Members()) != 0 {
		t.Fatal("group not empty")
	}
	if _, ok := l.State().Rotator(); ok {
		t.Fatal("rotator in an empty group")
	}
}

func TestCausalPastAuthorization(t *testing.T) {
	owner, alice := newID(t), newID(t)
	lo := group(t, owner, alice)
	la := fork(t, lo)
	must[*Op](t)(lo.Promote(owner, alice.Key(), RoleAdmin, t0))

	// Alice signs a rename without having seen her promotion: invalid in its
	// causal past, so rejected even by a node where she is an admin by now.
	o := la.prepare(alice, KindRename, t0)
	o.GroupName = "early"
	if err := o.Sign(alice.Sign); err != nil {
		t.Fatal(err)
	}
	_, err := lo.Insert(o)
	wantErr(t, err, ErrNotAuthorized)
	_, err = la.Insert(o)
	wantErr(t, err, ErrNotAuthorized)
}

// An op whose author is removed concurrently is dropped if the removal is
// ordered first.
func TestOpOfConcurrentlyRemovedAuthor(t *testing.T) {
	bothOrders(t, raceOpOfConcurrentlyRemovedAuthor)
}

func raceOpOfConcurrentlyRemovedAuthor(t *testing.T) bool {
	owner, a, b := newID(t), newID(t), newID(t)
	base := group(t, owner, a, b)
	must[*Op](t)(base.Promote(owner, a.Key(), RoleAdmin, t0))
	must[*Op](t)(base.Promote(owner, b.Key(), RoleAdmin, t0))
	la, lb := fork(t, base), fork(t, base)
	ra, _, err := la.RemoveMember(owner, b.Key(), t0)
	if err != nil {
		t.Fatal(err)
	}
	// b, not having seen that, changes its profile.
	pb := must[*Op](t)(lb.SetProfile(b, "still here", t0))
	syncFrom(t, la, lb)
	syncFrom(t, lb, la)
	if la.State().Digest() != lb.State().Digest() {
		t.Fatal("replicas diverge")
	}
	st := la.State()
	removedFirst := less(la.ops[ra.ID()], ra.ID(), pb, pb.ID())
	dropped := len(st.Dropped()) == 1 && st.Dropped()[0].ID == pb.ID()
	if removedFirst != dropped {
		t.Fatalf("op of a concurrently removed author: removed first %v, dropped %v", removedFirst, dropped)
	}
	if removedFirst {
		wantErr(t, st.Dropped()[0].Reason, ErrNotMember)
	}
	return removedFirst
}

// Admins cannot remove admins, so two admins cannot remove each other; the
// nearest race between two admins is one removing a member the other
// promotes concurrently: the op ordered first decides.
func TestRemoveRacesPromote(t *testing.T) { bothOrders(t, raceRemoveRacesPromote) }

func raceRemoveRacesPromote(t *testing.T) bool {
	owner, a, b, c := newID(t), newID(t), newID(t), newID(t)
	base := group(t, owner, a, b, c)
	must[*Op](t)(base.Promote(owner, a.Key(), RoleAdmin, t0))
	must[*Op](t)(base.Promote(owner, b.Key(), RoleAdmin, t0))
	la, lb := fork(t, base), fork(t, base)
	rm, _, err := la.RemoveMember(a, c.Key(), t0)
	if err != nil {
		t.Fatal(err)
	}
	pr := must[*Op](t)(lb.Promote(b, c.Key(), RoleAdmin, t0))
	syncFrom(t, la, lb)
	syncFrom(t, lb, la)
	st := la.State()
	if st.Digest() != lb.State().Digest() {
		t.Fatal("replicas diverge")
	}
	first := less(rm, rm.ID(), pr, pr.ID())
	if first {
		// removal first: the promotion targets a non-member and is dropped.
		if _, ok := st.Member(c.Key()); ok || len(st.Dropped()) != 1 || st.Dropped()[0].ID != pr.ID() {
			t.Fatal("removal first: wrong outcome")
		}
	} else {
		// promotion first: c is an admin, which admin a may not remove.
		if st.Role(c.Key()) != RoleAdmin || len(st.Dropped()) != 1 || st.Dropped()[0].ID != rm.ID() {
			t.Fatal("promotion first: wrong outcome")
		}
		wantErr(t, st.Dropped()[0].Reason, ErrNotAuthorized)
	}
	return first
}

// The owner removes admin a while a removes member m: if the owner's removal
// comes first, a's removal is dropped (a is gone), otherwise both take
// effect.
func TestRemovalByConcurrentlyRemovedAdmin(t *testing.T) {
	bothOrders(t, raceRemovalByConcurrentlyRemovedAdmin)
}

func raceRemovalByConcurrentlyRemovedAdmin(t *testing.T) bool {
	owner, a, m := newID(t), newID(t), newID(t)
	base := group(t, owner, a, m)
	must[*Op](t)(base.Promote(owner, a.Key(), RoleAdmin, t0))
	lo, la := fork(t, base), fork(t, base)
	ro, _, err := lo.RemoveMember(owner, a.Key(), t0)
	if err != nil {
		t.Fatal(err)
	}
	ra, _, err := la.RemoveMember(a, m.Key(), t0)
	if err != nil {
		t.Fatal(err)
	}
	syncFrom(t, lo, la)
	syncFrom(t, la, lo)
	st := lo.State()
	if st.Digest() != la.State().Digest() {
		t.Fatal("replicas diverge")
	}
	first := less(ro, ro.ID(), ra, ra.ID())
	if first {
		if _, ok := st.Member(m.Key()); !ok || len(st.Dropped()) != 1 {
			t.Fatal("a's removal should be dropped")
		}
		wantErr(t, st.Dropped()[0].Reason, ErrNotMember)
		if st.RotationNeeded() {
			t.Fatal("the owner's epoch excludes a: no rotation needed")
		}
	} else {
		if len(st.Members()) != 1 || len(st.Dropped()) != 0 {
			t.Fatal("both removals should take effect")
		}
		// The owner's epoch, current, was sealed to m, whom a removed
		// concurrently: it must be rotated.
		if _, mHolds := st.Current().copies[m.Key()]; !mHolds || !st.RotationNeeded() {
			t.Fatal("current epoch exposed to a removed member, no rotation asked")
		}
	}
	if st.RotationNeeded() {
		if _, _, err := lo.Rotate(owner, t0); err != nil {
			t.Fatal(err)
		}
		if lo.State().RotationNeeded() {
			t.Fatal("still needed after rotating")
		}
	}
	return first
}

func TestConcurrentAddAndRotationShareKey(t *testing.T) {
	owner, a, newcomer := newID(t), newID(t), newID(t)
	base := group(t, owner, a)
	lo, la := fork(t, base), fork(t, base)
	must[*Op](t)(lo.AddMember(owner, newcomer.Key(), HPKEPublic(newcomer.HPKE), "n", t0))
	if _, _, err := la.Rotate(a, t0); err != nil {
		t.Fatal(err)
	}
	syncFrom(t, lo, la)
	syncFrom(t, la, lo)
	st := lo.State()
	if st.Digest() != la.State().Digest() {
		t.Fatal("diverge")
	}
	// Either order leaves the newcomer without the current secret: the
	// rotation did not know it, or the add sealed the older epoch.
	missing := st.MissingKeys()
	if len(missing) != 1 || missing[0].Key != newcomer.Key() {
		t.Fatalf("missing keys %v", missing)
	}
	must[*Op](t)(lo.ShareKey(a, t0))
	if len(lo.State().MissingKeys()) != 0 {
		t.Fatal("still missing")
	}
	if !bytes.Equal(secretOf(t, lo, newcomer), secretOf(t, lo, owner)) {
		t.Fatal("newcomer got another secret")
	}
	_, err := lo.ShareKey(a, t0)
	wantErr(t, err, ErrPrecondition)
}

func TestConcurrentRotationsConverge(t *testing.T) {
	ids := []Identity{newID(t), newID(t), newID(t), newID(t)}
	base := group(t, ids[0], ids[1:]...)
	logs := make([]*Log, len(ids))
	for i := range logs {
		logs[i] = fork(t, base)
		if _, _, err := logs[i].Rotate(ids[i], t0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range logs {
		for j := range logs {
			syncFrom(t, logs[i], logs[j])
		}
	}
	want := secretOf(t, logs[0], ids[0])
	for i, l := range logs {
		if l.State().Digest() != logs[0].State().Digest() || l.State().Current().Number != 4 {
			t.Fatal("diverge")
		}
		for _, id := range ids {
			if !bytes.Equal(secretOf(t, l, id), want) {
				t.Fatalf("replica %d: member disagrees on the current secret", i)
			}
		}
	}
}
