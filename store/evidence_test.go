package store

import (
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
