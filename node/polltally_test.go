package node

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/parley-chat/parley/node/internal/polls"
	"github.com/parley-chat/parley/store"
)

// randomPollActs is a set of votes (valid and not), closes and deletes on
// one poll by a few members, with clocks close together (ties, votes at a
// close's clock) and distinct ids.
func randomPollActs(rng *rand.Rand, p polls.Poll, n int, withMods bool) []pollAct {
	authors := []string{p.Creator, "adm", "m1", "m2", "m3", "m4"}
	var out []pollAct
	for i := range n {
		a := authors[rng.IntN(len(authors))]
		pa := pollAct{kind: pollActVote, key: []byte("key-" + a),
			act: polls.Action{Lamport: uint64(rng.IntN(n/2 + 2)), Author: a}}
		pa.act.ID[0], pa.act.ID[1], pa.act.ID[2] = byte(i), byte(i>>8), byte(rng.IntN(256))
		switch r := rng.IntN(20); {
		case withMods && r < 2:
			pa.kind, pa.act.Close = pollActClose, true
		case withMods && r == 2 && rng.IntN(3) == 0:
			pa.kind = pollActDelete
		case r == 3:
			pa.kind = pollActOther
		default:
			for range rng.IntN(3) {
				pa.act.Choices = append(pa.act.Choices, rng.IntN(p.Options+1)) // may repeat or be out of range
			}
		}
		out = append(out, pa)
	}
	return out
}

// Every order of the same actions, applied one by one to a tally built at
// a random point (with repeats, and roles changing between reads), gives
// the full fold of what was applied so far at every step. Without closes
// and deletes no step needs a fold from the store.
func TestPollTallyMatchesFoldInAnyOrder(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 0x7a11))
		withMods := seed%3 != 0
		p := polls.Poll{Options: 2 + rng.IntN(4), Multi: rng.IntN(2) == 0, Creator: "c"}
		acts := randomPollActs(rng, p, 5+rng.IntN(60), withMods)
		admins := map[string]bool{"key-adm": true}
		mayMod := func(key []byte) bool { return admins[string(key)] }
		for order := range 8 {
			perm := rng.Perm(len(acts))
			buildAt := rng.IntN(len(acts) + 1)
			var held []pollAct
			var tl pollTally
			refolds := 0
			check := func(step int) {
				t.Helper()
				if !tl.settle(mayMod) {
					refolds++
					tl.build(p, held, mayMod)
				}
				got, want := tl.result(mayMod), foldActs(p, held, mayMod)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d order %d step %d (built at %d): tally\n%+v\nfull fold\n%+v", seed, order, step, buildAt, got, want)
				}
			}
			if buildAt == 0 {
				tl.build(p, nil, mayMod)
			}
			for step, i := range perm {
				held = append(held, acts[i])
				if step+1 < buildAt {
					continue
				}
				if step+1 == buildAt {
					tl.build(p, held, mayMod)
				} else {
					tl.add(&acts[i])
				}
				if rng.IntN(4) == 0 { // an action applied again (a fold raced its arrival)
					tl.add(&held[rng.IntN(len(held))])
				}
				if withMods && rng.IntN(6) == 0 { // a role change
					k := []string{"key-m1", "key-adm"}[rng.IntN(2)]
					admins[k] = !admins[k]
				}
				check(step)
			}
			if !withMods && refolds > 0 {
				t.Fatalf("seed %d: %d folds from the store with votes only", seed, refolds)
			}
		}
	}
}

// The tallies held are bounded; an evicted poll is read again in full.
func TestPollTalliesBounded(t *testing.T) {
	var c pollTallies
	var g store.GroupID
	first := c.entry(g, [32]byte{0})
	first.built = true
	for i := 1; i <= pollTalliesCap; i++ {
		c.entry(g, [32]byte{byte(i), byte(i >> 8)})
	}
	if c.lru.Len() != pollTalliesCap || len(c.m) != pollTalliesCap {
		t.Fatalf("holds %d/%d tallies, cap %d", c.lru.Len(), len(c.m), pollTalliesCap)
	}
	if c.held(g, [32]byte{0}) != nil {
		t.Fatal("the least recently read poll was not evicted")
	}
	if again := c.entry(g, [32]byte{0}); again == first || again.built {
		t.Fatalf("an evicted poll came back built: %p %p", again, first)
	}
}
