package store

import "testing"

// The recent-id cache answers Lamport for the newest committed messages and
// never for anything uncommitted; past its capacity Badger answers.
func TestRecentLamports(t *testing.T) {
	s := openMem(t)
	g := gidOf("recent")
	var msgs []Message
	for i := range uint64(recentCap + 10) {
		msgs = append(msgs, mkMsg(g, i, "alice", i+1, i+1))
	}
	mustAppend(t, s, msgs...)
	for _, i := range []uint64{0, 5, recentCap, recentCap + 9} { // evicted and cached alike
		lam, ok, err := s.Lamport(g, idOf(i))
		if err != nil || !ok || lam != i+1 {
			t.Errorf("Lamport(%d) = %d, %v, %v; want %d, true", i, lam, ok, err, i+1)
		}
	}
	if _, ok := s.recent.lamport(g, idOf(0)); ok {
		t.Error("the oldest id is still cached past the capacity")
	}
	if _, ok := s.recent.lamport(g, idOf(recentCap+9)); !ok {
		t.Error("the newest id is not cached")
	}
	if _, ok, _ := s.Lamport(g, idOf(recentCap+100)); ok {
		t.Error("an id never stored has a clock")
	}
	// A repeat of a cached id is a duplicate, not a second insert.
	ins, err := s.AppendReceived(t.Context(), msgs[len(msgs)-1])
	if err != nil || ins[0] {
		t.Errorf("re-append of a cached id: inserted %v, %v", ins, err)
	}
}

// A sender reads the heads, then the group's clock, and takes a clock above
// both: the cached clock must never be older than heads already visible. It
// was, for the moment between a commit and the cache's update, and a sender
// then signed a message whose clock was not above its parent's (receivers
// refused it as a causality violation).
func TestGroupStatsNeverBehindHeads(t *testing.T) {
	s := openMem(t)
	g := gidOf("race")
	const n = 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		prev := []MessageID(nil)
		for i := range uint64(n) {
			m := mkMsg(g, i, "alice", i+1, i+1, prev...)
			mustAppend(t, s, m)
			prev = []MessageID{m.ID}
		}
	}()
	var bad, reads int
	for {
		select {
		case <-done:
			if bad > 0 {
				t.Fatalf("%d of %d reads saw a head whose clock was above the group's max", bad, reads)
			}
			return
		default:
		}
		hs, err := s.Heads(g, 8)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.GroupStats(g)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		for _, h := range hs {
			lam, ok, err := s.Lamport(g, h)
			if err != nil || !ok {
				t.Fatalf("head %x: held %v, %v", h[:4], ok, err)
			}
			if lam > st.MaxLamport {
				bad++
			}
		}
	}
}
