package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
)

func TestIDFilterNoFalseNegativesFewFalsePositives(t *testing.T) {
	f := newIDFilter(0)
	g, other := gidOf("filter"), gidOf("other")
	n := int(f.capacity)
	for i := range n {
		f.add(g, idOf(uint64(i)))
	}
	for i := range n {
		if !f.mayContain(g, idOf(uint64(i))) {
			t.Fatalf("id %d added but reported absent", i)
		}
	}
	fp := 0
	for i := range n {
		if f.mayContain(g, MessageID(sha256.Sum256(fmt.Appendf(nil, "absent %d", i)))) {
			fp++
		}
	}
	// 12 bits and 7 probes per id give about 0.3% at capacity.
	if rate := float64(fp) / float64(n); rate > 0.01 {
		t.Fatalf("false positive rate %.4f at capacity", rate)
	}
	if f.mayContain(other, idOf(1)) && f.mayContain(other, idOf(2)) && f.mayContain(other, idOf(3)) {
		t.Fatal("the same ids in another group all read as present")
	}
}

// The filter and gap set are rebuilt from disk on open and grown when full;
// lookups through them agree with Badger throughout.
func TestFilterRebuildAndGrowth(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	small := newIDFilter(0)
	small.capacity = 50 // force a rebuild after the first batches
	s.ids.Store(small)
	g := gidOf("grow")
	var prev []MessageID
	for n := uint64(1); n <= 200; n++ {
		m := mkMsg(g, n, "alice", n, n, prev...)
		if n%20 == 0 {
			m.Parents = append(m.Parents, idOf(1_000_000+n)) // never held: a gap
		}
		mustAppend(t, s, m)
		prev = []MessageID{m.ID}
	}
	if s.ids.Load() == small {
		t.Fatal("the filter was not grown past its capacity")
	}
	check := func(s *Store) {
		t.Helper()
		for n := uint64(1); n <= 200; n++ {
			if has, err := s.Has(g, idOf(n)); err != nil || !has {
				t.Fatalf("message %d: Has = %v, %v", n, has, err)
			}
		}
		if ins, err := s.Append(context.Background(), mkMsg(g, 7, "alice", 7, 7)); err != nil || ins[0] {
			t.Fatalf("a stored message inserted again: %v %v", ins, err)
		}
		missing, err := s.Missing(g, 100)
		if err != nil || len(missing) != 10 {
			t.Fatalf("missing %d, %v; want the 10 gaps", len(missing), err)
		}
		for _, id := range missing {
			if !s.gaps.has(g, id) {
				t.Fatalf("gap %x on disk but not in the gap set", id[:4])
			}
		}
	}
	check(s)
	s.Close()
	re := openDir(t, dir)
	defer re.Close()
	check(re)
	// Filling a gap takes it out of the set once committed, and the filled
	// message is no head (it was named as a parent).
	filler := mkMsg(g, 1_000_020, "bob", 1, 1)
	mustAppend(t, re, filler)
	if re.gaps.has(g, filler.ID) {
		t.Fatal("a filled gap is still in the gap set")
	}
	heads, err := re.Heads(g, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range heads {
		if h == filler.ID {
			t.Fatal("a message named as a parent became a head")
		}
	}
}
