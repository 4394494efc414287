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
