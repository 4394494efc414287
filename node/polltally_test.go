package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"

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

// fullPoll reads a poll folding every action from the store: no held
// tally, no decoded-action cache (what the tally must equal).
func fullPoll(t testing.TB, n *testNode, group, poll string) (PollInfo, error) {
	t.Helper()
	g, err := n.group(group)
	if err != nil {
		t.Fatal(err)
	}
	r := n.pollReader(g)
	r.acts = nil
	v, err := r.find(poll)
	if err != nil {
		return PollInfo{}, err
	}
	info, _, err := r.load(v)
	return info, err
}

// Real nodes: three members act on a poll while cut off from each other
// (votes, changes, a withdrawal, an invalid close, an admin's close, votes
// after it, a second close); two members cut off from the start then
// receive all of it, the poll included, in random orders, one message at
// a time. After every message each reads the same poll as a full fold.
func TestPollTallyNodesRandomOrders(t *testing.T) {
	if raceEnabled {
		t.Skip("mocknet's teardown lets a GossipSub stream survive a cut under -race (see TestPartitionHeal); runs in the plain pass")
	}
	ctx := context.Background()
	mn, nodes := mockNodes(t, 5, WithSyncInterval(0))
	a, b, d := nodes[0], nodes[1], nodes[2]
	receivers := nodes[3:]
	g := formGroup(t, "Tally", nodes...)
	makeAdmin(t, a, d, g)
	for _, n := range nodes {
		waitFor(t, "d an admin everywhere", func() bool {
			ms, err := n.MemberList(g)
			if err != nil {
				return false
			}
			for _, m := range ms {
				if m.PeerID == d.ID().String() && m.Role == "admin" {
					return true
				}
			}
			return false
		})
	}
	partition(t, mn, nodes[:3], receivers)
	for i := range 3 {
		partition(t, mn, nodes[i:i+1], nodes[i+1:3])
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pm, err := a.CreatePoll(ctx, g, "Q", []string{"x", "y", "z"}, true, false)
	must(err)
	for _, n := range []*testNode{b, d} { // the poll reaches the actors only
		gr, err := n.group(g)
		must(err)
		for _, raw := range storedAfter(t, a, g, pm.Lamport-1) {
			v, err := envelope.VerifySigned(gr.rec.ID, raw)
			must(err)
			_, err = n.ingest(gr, []*envelope.Verified{v}, "")
			must(err)
		}
	}
	must(a.Vote(ctx, g, pm.ID, []int{0}))
	must(b.Vote(ctx, g, pm.ID, []int{2}))
	must(a.Vote(ctx, g, pm.ID, []int{0, 1}))
	must(b.Vote(ctx, g, pm.ID, nil))
	rawPublish(t, b, g, &wirepb.Body{Kind: &wirepb.Body_PollClose{PollClose: &wirepb.PollClose{Poll: pollBytes(t, pm.ID)}}})
	must(b.Vote(ctx, g, pm.ID, []int{1, 2}))
	must(d.Vote(ctx, g, pm.ID, []int{1}))
	must(d.Vote(ctx, g, pm.ID, []int{2}))
	must(d.ClosePoll(ctx, g, pm.ID))
	must(a.Vote(ctx, g, pm.ID, []int{2})) // concurrent with the close: the clocks decide
	must(b.Vote(ctx, g, pm.ID, []int{0}))
	must(a.ClosePoll(ctx, g, pm.ID))
	var raws [][]byte
	for _, n := range nodes[:3] {
		raws = append(raws, storedAfter(t, n, g, pm.Lamport-1)...)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round, r := range receivers {
		gr, err := r.group(g)
		must(err)
		perm := rng.Perm(len(raws))
		for step, i := range perm {
			v, err := envelope.VerifySigned(gr.rec.ID, raws[i])
			must(err)
			if has, _ := r.st.Has(gr.rec.ID, v.ID); has {
				continue
			}
			_, err = r.ingest(gr, []*envelope.Verified{v}, "")
			must(err)
			got, gerr := r.Poll(g, pm.ID)
			want, werr := fullPoll(t, r, g, pm.ID)
			if (gerr != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("receiver %d, order %v, step %d: tally %+v (%v)\nfull fold %+v (%v)", round, perm, step, got, gerr, want, werr)
			}
		}
	}
	if x, y := tallyOf(t, receivers[0], g, pm.ID), tallyOf(t, receivers[1], g, pm.ID); x != y {
		t.Fatalf("receivers disagree:\n%s\n%s", x, y)
	}
	p, err := receivers[0].Poll(g, pm.ID)
	must(err)
	t.Logf("%d actions; %s", len(raws), tallyOf(t, receivers[0], g, pm.ID))
	if !p.Closed || p.ClosedBy != d.ID().String() && p.ClosedBy != a.ID().String() {
		t.Fatalf("not closed by the admin or the creator: %+v", p)
	}
}

// Votes stored while other goroutines read the poll and push its tally out
// of the cache (so it is folded again from the store as votes land): the
// tally held at the end is the full fold. Run under -race too.
func TestPollTallyConcurrentVotesAndReads(t *testing.T) {
	ctx := context.Background()
	_, nodes := mockNodes(t, 2, WithSyncInterval(0))
	a, b := nodes[0], nodes[1]
	g := formGroup(t, "Busy", a, b)
	pm, err := a.CreatePoll(ctx, g, "Q", []string{"x", "y", "z"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b has the poll", func() bool { _, err := b.Poll(g, pm.ID); return err == nil })
	const votes = 40
	done := make(chan struct{})
	var readers sync.WaitGroup
	for _, n := range nodes {
		readers.Add(2)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				_, _ = n.Poll(g, pm.ID)
			}
		}()
		go func() { // evicts every poll held
			defer readers.Done()
			gr, _ := n.group(g)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				n.Local.pollActs.tallies.entry(gr.rec.ID, store.MessageID{0xee, byte(i), byte(i >> 8)})
			}
		}()
	}
	var voters sync.WaitGroup
	errs := make(chan error, 2)
	for k, n := range nodes {
		voters.Add(1)
		go func() {
			defer voters.Done()
			for i := range votes {
				if err := n.Vote(ctx, g, pm.ID, []int{(i + k) % 3}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	voters.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := make([]int, 3)
	want[(votes-1)%3]++
	want[votes%3]++
	waitCounts(t, g, pm.ID, want, a, b)
	for _, n := range nodes {
		held, _ := n.Poll(g, pm.ID)
		if full, err := fullPoll(t, n, g, pm.ID); err != nil || !reflect.DeepEqual(held, full) {
			t.Fatalf("%s: held tally %+v\nfull fold %+v (%v)", n.cfg.displayName, held, full, err)
		}
	}
}

// What one new vote costs a poll holding n votes: applied to the held
// tally, or folded in full (the way before the tally). Ratios only.
func BenchmarkPollVote(b *testing.B) {
	p := polls.Poll{Options: 3, Creator: "c"}
	for _, n := range []int{100, 10000} {
		acts := make([]pollAct, n)
		for i := range acts {
			acts[i] = pollAct{kind: pollActVote, act: polls.Action{Lamport: uint64(i), Author: fmt.Sprint("m", i%5), Choices: []int{i % 3}}}
			acts[i].act.ID[0], acts[i].act.ID[1] = byte(i), byte(i>>8)
		}
		next := pollAct{kind: pollActVote, act: polls.Action{Lamport: uint64(n), Author: "m1", Choices: []int{2}}}
		b.Run(fmt.Sprintf("tally/votes=%d", n), func(b *testing.B) {
			var tl pollTally
			tl.build(p, acts, nil)
			for i := 0; b.Loop(); i++ {
				next.act.Lamport++
				tl.add(&next)
				tl.settle(nil)
				_ = tl.result(nil)
			}
		})
		b.Run(fmt.Sprintf("fullfold/votes=%d", n), func(b *testing.B) {
			all := append(acts, next)
			for b.Loop() {
				_ = foldActs(p, all, nil)
			}
		})
	}
}
