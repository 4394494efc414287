package membership

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// replay builds a fresh log from ops delivered in the given order, holding
// back ops whose parents have not arrived yet (as the node will).
func replay(t *testing.T, ops []*Op) *Log {
	t.Helper()
	var l *Log
	pending := ops
	for len(pending) > 0 {
		var next []*Op
		for _, o := range pending {
			if l == nil {
				if o.Kind != KindCreate {
					next = append(next, o)
					continue
				}
				var err error
				if l, err = NewLog(o); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := l.Insert(o); errors.Is(err, ErrUnknownParent) {
				next = append(next, o)
			} else if err != nil {
				t.Fatalf("insert %s: %v", o.Kind, err)
			}
		}
		if len(next) == len(pending) {
			t.Fatal("no progress")
		}
		pending = next
	}
	return l
}

// TestConvergence is the property test: replicas act concurrently at random
// (adds, removals, leaves, promotions, rotations, invites, profile changes)
// and sync partially at random; then any delivery order of the union of ops
// yields the same state, and every member opens the same current secret.
func TestConvergence(t *testing.T) {
	dropped := 0
	for seed := uint64(1); seed <= 12; seed++ {
		dropped += convergenceRun(t, rand.New(rand.NewPCG(seed, 99)))
	}
	if dropped == 0 {
		t.Fatal("no run produced a conflict: the test exercises nothing")
	}
}

func convergenceRun(t *testing.T, rng *rand.Rand) int {
	const n = 6
	ids := make([]Identity, n)
	for i := range ids {
		ids[i] = newID(t)
	}
	base := group(t, ids[0], ids[1:4]...) // ids[4:] join later
	must[*Op](t)(base.Promote(ids[0], ids[1].Key(), RoleAdmin, t0))
	logs := make([]*Log, n)
	for i := range logs {
		logs[i] = fork(t, base)
	}
	var invites []InviteSecret
	now := t0
	for round := 0; round < 60; round++ {
		now = now.Add(time.Second)
		i := rng.IntN(n)
		l, me := logs[i], ids[i]
		other := ids[rng.IntN(n)]
		var err error
		switch rng.IntN(10) {
		case 0:
			_, err = l.AddMember(me, other.Key(), HPKEPublic(other.HPKE), "x", now)
		case 1:
			_, _, err = l.RemoveMember(me, other.Key(), now)
		case 2:
			if rng.IntN(3) == 0 {
				_, err = l.Leave(me, now)
			}
		case 3:
			_, err = l.Promote(me, other.Key(), RoleAdmin, now)
		case 4:
			_, err = l.Demote(me, other.Key(), now)
		case 5:
			_, _, err = l.Rotate(me, now)
		case 6:
			var s InviteSecret
			if _, s, err = l.CreateInvite(me, now.Add(time.Hour), 1, now); err == nil {
				invites = append(invites, s)
			}
		case 7:
			if len(invites) > 0 {
				ch := NewChallenge()
				s := invites[rng.IntN(len(invites))]
				req, _ := ProveInvite(s, l.Group(), other.Key(), HPKEPublic(other.HPKE), "j", ch)
				_, err = l.Admit(me, req, ch, now)
			}
		case 8:
			_, err = l.SetProfile(me, "p", now)
		case 9:
			j := rng.IntN(n)
			syncFrom(t, logs[j], l)
		}
		_ = err // refused actions are part of the game
	}
	var all []*Op
	seen := map[OpID]bool{}
	for _, l := range logs {
		for _, o := range l.Ops() {
			if !seen[o.ID()] {
				seen[o.ID()] = true
				all = append(all, o)
			}
		}
	}
	for _, l := range logs {
		for _, src := range logs {
			syncFrom(t, l, src)
		}
	}
	want := logs[0].State().Digest()
	for i, l := range logs {
		if l.State().Digest() != want {
			t.Fatalf("replica %d diverges", i)
		}
	}
	for k := 0; k < 5; k++ {
		shuffled := append([]*Op(nil), all...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if replay(t, shuffled).State().Digest() != want {
			t.Fatal("delivery order changes the state")
		}
	}
	st := logs[0].State()
	t.Logf("%d ops, %d dropped, %d epochs, %d members", len(all), len(st.Dropped()), len(st.Epochs()), len(st.Members()))
	var secret []byte
	for _, id := range ids {
		if _, ok := st.Member(id.Key()); !ok {
			continue
		}
		s, err := st.OpenEpochSecret(st.Current().ID, id.Key(), id.HPKE)
		if errors.Is(err, ErrNoSealedSecret) {
			continue // in MissingKeys: waits for a key share
		}
		if err != nil {
			t.Fatal(err)
		}
		if secret != nil && !bytes.Equal(s, secret) {
			t.Fatal("members disagree on the current secret")
		}
		secret = s
	}
	return len(st.Dropped())
}
