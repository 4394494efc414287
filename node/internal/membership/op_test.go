package membership

import (
	"bytes"
	"crypto/hpke"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/membership/memberpb"
)

func TestEncodeDecodeEveryKind(t *testing.T) {
	owner, alice, bob := newID(t), newID(t), newID(t)
	l := group(t, owner, alice)
	must[*Op](t)(l.Promote(owner, alice.Key(), RoleAdmin, t0))
	must[*Op](t)(l.Rename(owner, "renamed", t0))
	must[*Op](t)(l.SetProfile(alice, "Alice", t0))
	newKey, err := NewHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	must[*Op](t)(l.UpdateKey(alice, HPKEPublic(newKey), t0))
	alice.HPKE, alice.Retired = newKey, []hpke.PrivateKey{alice.HPKE}
	invOp, secret, err := l.CreateInvite(alice, t0.Add(time.Hour), 2, t0)
	if err != nil {
		t.Fatal(err)
	}
	ch := NewChallenge()
	req := must[JoinRequest](t)(ProveInvite(secret, l.Group(), bob.Key(), HPKEPublic(bob.HPKE), "Bob", ch))
	must[*Op](t)(l.Admit(alice, req, ch, t0))
	must[*Op](t)(l.RevokeInvite(alice, invOp.InviteID, t0))
	must[*Op](t)(l.Demote(owner, alice.Key(), t0))
	if _, _, err := l.Rotate(alice, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.RemoveMember(owner, bob.Key(), t0); err != nil {
		t.Fatal(err)
	}
	must[*Op](t)(l.Leave(alice, t0))

	kinds := map[Kind]bool{}
	for _, o := range l.Ops() {
		kinds[o.Kind] = true
		d, err := DecodeOp(o.Encode())
		if err != nil {
			t.Fatalf("%s: %v", o.Kind, err)
		}
		if d.ID() != o.ID() || !bytes.Equal(d.Encode(), o.Encode()) {
			t.Fatalf("%s: round trip changed the op", o.Kind)
		}
	}
	for k := KindCreate; k <= kindMax; k++ {
		if !kinds[k] && k != KindKeyShare { // key share: see TestConcurrentAddAndRotationShareKey
			t.Errorf("kind %s not covered", k)
		}
	}
}

func TestIDIndependentOfTransportEncoding(t *testing.T) {
	owner, alice := newID(t), newID(t)
	l := group(t, owner, alice)
	o := l.Ops()[1]
	var pb memberpb.Op
	if err := proto.Unmarshal(o.Encode(), &pb); err != nil {
		t.Fatal(err)
	}
	pb.InviteId = make([]byte, 16) // explicit zeros instead of absent
	pb.InviteKey = make([]byte, 32)
	b, _ := proto.Marshal(&pb)
	d, err := DecodeOp(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != o.ID() {
		t.Fatal("re-encoding changed the op id")
	}
}

func TestDecodeRejects(t *testing.T) {
	owner, alice := newID(t), newID(t)
	l := group(t, owner, alice)
	good := l.Ops()[1].Encode()
	mutate := func(f func(*memberpb.Op)) []byte {
		var pb memberpb.Op
		if err := proto.Unmarshal(good, &pb); err != nil {
			t.Fatal(err)
		}
		f(&pb)
		b, _ := proto.Marshal(&pb)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, ErrMalformed},
		{"too big", make([]byte, MaxOpSize+1), ErrMalformed},
		{"version", mutate(func(p *memberpb.Op) { p.Version = 2 }), ErrBadVersion},
		{"tampered name", mutate(func(p *memberpb.Op) { p.Name = "mallory" }), ErrBadSignature},
		{"tampered sig", mutate(func(p *memberpb.Op) { p.Signature[0] ^= 1 }), ErrBadSignature},
		{"short sig", mutate(func(p *memberpb.Op) { p.Signature = p.Signature[:10] }), ErrBadSignature},
		{"foreign field", mutate(func(p *memberpb.Op) { p.GroupName = "x" }), ErrMalformed},
		{"missing field", mutate(func(p *memberpb.Op) { p.Name = "" }), ErrMalformed},
		{"short author", mutate(func(p *memberpb.Op) { p.Author = p.Author[:5] }), ErrMalformed},
		{"unknown kind", mutate(func(p *memberpb.Op) { p.Kind = 99 }), ErrMalformed},
		{"dup parents", mutate(func(p *memberpb.Op) { p.Parents = append(p.Parents, p.Parents[0]) }), ErrMalformed},
		{"bad name", mutate(func(p *memberpb.Op) { p.Name = "a\x00b" }), ErrMalformed},
		{"sealed to other", mutate(func(p *memberpb.Op) { p.Sealed[0].Recipient = p.Author }), ErrMalformed},
		{"sealed size", mutate(func(p *memberpb.Op) { p.Sealed[0].Ciphertext = p.Sealed[0].Ciphertext[:7] }), ErrMalformed},
		{"no group", mutate(func(p *memberpb.Op) { p.Group = nil }), ErrMalformed},
	}
	for _, c := range cases {
		if _, err := DecodeOp(c.b); err == nil {
			t.Errorf("%s: accepted", c.name)
		} else {
			wantErrNamed(t, c.name, err, c.want)
		}
	}
}

func wantErrNamed(t *testing.T, name string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", name, err, want)
	}
}

func TestInsertRejects(t *testing.T) {
	owner, alice, other := newID(t), newID(t), newID(t)
	l := group(t, owner, alice)
	l2, _, _ := Create(other, "o", "g2", t0)

	o := l2.prepare(other, KindRename, t0)
	o.GroupName = "x"
	if err := o.Sign(other.Sign); err != nil {
		t.Fatal(err)
	}
	_, err := l.Insert(o)
	wantErr(t, err, ErrWrongGroup)

	o = l.prepare(owner, KindRename, t0)
	o.GroupName = "x"
	o.Parents = []OpID{{1}}
	_ = o.Sign(owner.Sign)
	_, err = l.Insert(o)
	wantErr(t, err, ErrUnknownParent)

	o = l.prepare(owner, KindRename, t0)
	o.GroupName = "x"
	o.Lamport += 5
	_ = o.Sign(owner.Sign)
	_, err = l.Insert(o)
	wantErr(t, err, ErrBadLamport)

	o = l.prepare(owner, KindRename, t0)
	o.GroupName = "x"
	_ = o.Sign(owner.Sign)
	if ok, err := l.Insert(o); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := l.Insert(o); ok || err != nil {
		t.Fatal("duplicate insert", ok, err)
	}
	if err := o.Sign(alice.Sign); err == nil {
		t.Fatal("signed with another key")
	}
}

// After a key update, new epochs are sealed to the new HPKE key only: the
// old private key opens the epochs before the update and nothing after, and
// the new one nothing before (what a thief of either can read).
func TestKeyUpdateSealsLaterEpochsToTheNewKey(t *testing.T) {
	owner, alice := newID(t), newID(t)
	l := group(t, owner, alice)
	before := l.State().Current().ID
	oldKey := alice.HPKE
	newKey, err := NewHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	must[*Op](t)(l.UpdateKey(alice, HPKEPublic(newKey), t0))
	if m, _ := l.State().Member(alice.Key()); !bytes.Equal(m.HPKE, HPKEPublic(newKey)) {
		t.Fatal("the state does not hold alice's new key")
	}
	if _, _, err := l.Rotate(owner, t0); err != nil {
		t.Fatal(err)
	}
	st := l.State()
	after := st.Current().ID
	if _, err := st.OpenEpochSecret(after, alice.Key(), newKey); err != nil {
		t.Fatalf("new key opens the new epoch: %v", err)
	}
	if _, err := st.OpenEpochSecret(after, alice.Key(), oldKey); err == nil {
		t.Fatal("the old key opens an epoch started after the key update")
	}
	if _, err := st.OpenEpochSecret(before, alice.Key(), oldKey); err != nil {
		t.Fatalf("old key opens the old epoch: %v", err)
	}
	if _, err := st.OpenEpochSecret(before, alice.Key(), newKey); err == nil {
		t.Fatal("the new key opens an epoch sealed before it existed")
	}
	// Only the member itself announces its key.
	o := must[*Op](t)(l.UpdateKey(alice, HPKEPublic(newKey), t0))
	o.Author = owner.Key()
	if err := o.Validate(); err == nil {
		t.Fatal("a key update re-signed under another author validates")
	}
}
