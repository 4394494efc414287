package node

import (
	"bytes"
	"context"
	"crypto/hpke"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/internal/membership"
)

// Forward secrecy, tried against running nodes: everything a thief finds on
// bob's device after the key timers have run (every HPKE private key bob
// still keeps, every epoch secret in his store, the whole membership log
// with its sealed copies) opens nothing of the first epoch, so traffic
// captured then stays sealed; bob keeps reading what is sent now.
func TestStolenKeysDoNotOpenPastEpochs(t *testing.T) {
	ctx := context.Background()
	timers := []Option{WithMaintenanceInterval(50 * time.Millisecond), WithEpochGrace(200 * time.Millisecond)}
	a := newTestNode(t, "alice", "", append(timers, WithEpochRotation(500*time.Millisecond))...)
	b := newTestNode(t, "bob", "", append(timers, WithKeyRotation(300*time.Millisecond, 400*time.Millisecond))...)
	gi, err := a.CreateGroup(ctx, "Diary", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	ga, _ := a.group(gi.ID)
	var first membership.OpID
	copy(first[:], epochOf(ga))
	if _, err := a.Send(ctx, gi.ID, "sent in the first epoch"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b reads the first message", func() bool { return slices.Contains(texts(t, b, gi.ID), "sent in the first epoch") })
	firstKey, _ := b.id.ring.keys()
	firstPub := membership.HPKEPublic(firstKey)

	// b replaces its key; a learns it and seals later epochs to it.
	gb, _ := b.group(gi.ID)
	waitFor(t, "a seals to b's new key", func() bool {
		ga.mem.mu.Lock()
		m, ok := ga.mem.log.State().Member(b.memberKey)
		ga.mem.mu.Unlock()
		return ok && !bytes.Equal(m.HPKE, firstPub)
	})
	waitFor(t, "b's first key deleted and the first epoch's secret gone", func() bool {
		_, retired := b.id.ring.keys()
		for _, k := range retired {
			if bytes.Equal(membership.HPKEPublic(k), firstPub) {
				return false
			}
		}
		secrets, err := b.st.EpochSecrets(gb.rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, held := secrets[first]
		return !held && string(epochOf(gb)) != string(first[:])
	})

	// The theft.
	cur, retired := b.id.ring.keys()
	gb.mem.mu.Lock()
	st := gb.mem.log.State()
	gb.mem.mu.Unlock()
	for i, k := range append([]hpke.PrivateKey{cur}, retired...) {
		if _, err := st.OpenEpochSecret(first, b.memberKey, k); err == nil {
			t.Fatalf("stolen HPKE key %d opens the first epoch's sealed secret", i)
		}
	}
	secrets, err := b.st.EpochSecrets(gb.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, held := secrets[first]; held {
		t.Fatal("the first epoch's secret is still in bob's store")
	}

	// And the group still talks, on epochs sealed to b's newer keys.
	if _, err := a.Send(ctx, gi.ID, "sent now"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b reads what is sent now", func() bool { return slices.Contains(texts(t, b, gi.ID), "sent now") })
}
