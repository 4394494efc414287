package store

import (
	"reflect"
	"slices"
	"testing"
)

func TestAtSeqVectorRangesEvidence(t *testing.T) {
	s := openMem(t)
	g := gidOf("evidence")
	// alice: seqs 1, 2 and 4 (3 never sent).
	mustAppend(t, s, mkMsg(g, 1, "alice", 1, 1), mkMsg(g, 2, "alice", 2, 2), mkMsg(g, 4, "alice", 4, 4))
	if id, ok, err := s.AtSeq(g, []byte("alice"), 2); err != nil || !ok || id != idOf(2) {
		t.Fatalf("AtSeq 2: %x %v %v", id[:2], ok, err)
	}
	for _, seq := range []uint64{3, 5, 1 << 40} {
		if _, ok, err := s.AtSeq(g, []byte("alice"), seq); err != nil || ok {
			t.Fatalf("AtSeq %d: %v %v", seq, ok, err)
		}
	}
	if _, ok, err := s.AtSeq(g, []byte("nobody"), 1); err != nil || ok {
		t.Fatalf("AtSeq of an unknown author: %v %v", ok, err)
	}
	rs, err := s.VectorRanges(g)
	if err != nil || len(rs) != 1 || rs[0].Have != 2 || rs[0].Max != 4 || string(rs[0].Author) != "alice" {
		t.Fatalf("ranges %+v %v", rs, err)
	}

	e := Equivocation{Author: []byte("alice"), Seq: 2, First: idOf(2), Second: []byte("the other one")}
	if err := s.PutEquivocation(g, e); err != nil {
		t.Fatal(err)
	}
	// One record per author and seq: the first kept.
	if err := s.PutEquivocation(g, Equivocation{Author: []byte("alice"), Seq: 2, First: idOf(9), Second: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Equivocations(g)
	if err != nil || len(ev) != 1 || ev[0].Seq != 2 || ev[0].First != idOf(2) || !slices.Equal(ev[0].Second, e.Second) || string(ev[0].Author) != "alice" {
		t.Fatalf("evidence %+v %v", ev, err)
	}
	if ev, _ := s.Equivocations(gidOf("other")); len(ev) != 0 {
		t.Fatal("evidence leaked into another group")
	}
}

// AtSeq's cache of each author's highest committed seq must follow every
// commit: a seq it once answered "not held" is found once stored, and the
// same after reopening (an empty cache asks Badger).
func TestAtSeqFollowsCommits(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("seqcache")
	mustAppend(t, s, mkMsg(g, 1, "bob", 1, 1))
	for seq := uint64(2); seq <= 5; seq++ {
		if _, ok, err := s.AtSeq(g, []byte("bob"), seq); err != nil || ok {
			t.Fatalf("AtSeq %d before it is stored: %v %v", seq, ok, err)
		}
		mustAppend(t, s, mkMsg(g, seq, "bob", seq, seq))
		if id, ok, err := s.AtSeq(g, []byte("bob"), seq); err != nil || !ok || id != idOf(seq) {
			t.Fatalf("AtSeq %d once stored: %v %v", seq, ok, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if id, ok, err := s.AtSeq(g, []byte("bob"), 5); err != nil || !ok || id != idOf(5) {
		t.Fatalf("AtSeq 5 after reopening: %v %v", ok, err)
	}
	if _, ok, err := s.AtSeq(g, []byte("bob"), 6); err != nil || ok {
		t.Fatalf("AtSeq 6 after reopening: %v %v", ok, err)
	}
}

// The committer's copy of counters, heads and vectors (committedState)
// must say what Badger says: a batch built on a stale copy would write
// wrong heads, counts or vectors. Store a keeps its copy across commits;
// store b is reopened before each (an empty copy: every batch reads
// Badger). Both get the same batches and must agree after each.
func TestCommittedStateMatchesBadger(t *testing.T) {
	g := gidOf("committed")
	type view struct {
		heads []MessageID
		vec   []AuthorSeq
		stats Stats
	}
	read := func(s *Store) view {
		t.Helper()
		h, err := s.Heads(g, 100)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Vector(g)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.GroupStats(g)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(h, func(a, b MessageID) int { return slices.Compare(a[:], b[:]) })
		return view{h, v, st}
	}
	open := func(dir string) *Store {
		t.Helper()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dirB := t.TempDir()
	a := open(t.TempDir())
	defer a.Close()
	steps := [][]Message{
		{mkMsg(g, 1, "alice", 1, 1)},
		{mkMsg(g, 2, "bob", 1, 2, idOf(1))},
		{mkMsg(g, 3, "alice", 2, 3, idOf(2)), mkMsg(g, 4, "carol", 1, 3, idOf(2))},
		{mkMsg(g, 6, "bob", 3, 5, idOf(5))}, // seq 2 and parent 5 missing
		{mkMsg(g, 5, "bob", 2, 4, idOf(3), idOf(4))},
		{mkMsg(g, 7, "alice", 3, 6, idOf(6))},
		{mkMsg(g, 8, "carol", 2, 7, idOf(7)), mkMsg(g, 9, "carol", 3, 8, idOf(8))},
	}
	total := 0
	for i, batch := range steps {
		total += len(batch)
		mustAppend(t, a, batch...)
		b := open(dirB)
		mustAppend(t, b, batch...)
		got, want := read(a), read(b)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: with the copy %+v, from Badger %+v", i, got, want)
		}
		if got.stats.Count != uint64(total) {
			t.Fatalf("step %d: count %d, want %d", i, got.stats.Count, total)
		}
	}
}
