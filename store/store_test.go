package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// ---- helpers ---------------------------------------------------------------

// idOf returns a deterministic message id for n.
func idOf(n uint64) MessageID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return MessageID(sha256.Sum256(append([]byte("parley-test-msg:"), b[:]...)))
}

// gidOf returns a deterministic group id for name.
func gidOf(name string) GroupID {
	h := sha256.Sum256([]byte("parley-test-group:" + name))
	var g GroupID
	copy(g[:], h[:])
	return g
}

// rawOf is the deterministic raw body of message n in group g.
func rawOf(g GroupID, n uint64) []byte {
	return fmt.Appendf(nil, "raw:%x:%d", g[:], n)
}

// mkMsg builds message number n. Its id is idOf(n) and its raw body is rawOf.
func mkMsg(g GroupID, n uint64, author string, seq, lamport uint64, parents ...MessageID) Message {
	return Message{
		Group:   g,
		ID:      idOf(n),
		Author:  []byte(author),
		Seq:     seq,
		Lamport: lamport,
		TimeMs:  int64(1_700_000_000_000 + n),
		Parents: parents,
		Raw:     rawOf(g, n),
	}
}

func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := Open("", InMemory())
	if err != nil {
		t.Fatalf("Open in memory: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openDir(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open %s: %v", dir, err)
	}
	return s
}

func mustAppend(t testing.TB, s *Store, msgs ...Message) []bool {
	t.Helper()
	ins, err := s.Append(context.Background(), msgs...)
	if err != nil {
		t.Fatalf("Append(%d msgs): %v", len(msgs), err)
	}
	if len(ins) != len(msgs) {
		t.Fatalf("Append returned %d results for %d msgs", len(ins), len(msgs))
	}
	return ins
}

func allTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func stats(t testing.TB, s *Store, g GroupID) Stats {
	t.Helper()
	st, err := s.GroupStats(g)
	if err != nil {
		t.Fatalf("GroupStats: %v", err)
	}
	return st
}

func history(t testing.TB, s *Store, g GroupID, before *Cursor, limit int) []Stored {
	t.Helper()
	out, err := s.History(g, before, limit)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return out
}

func after(t testing.TB, s *Store, g GroupID, c *Cursor) []Stored {
	t.Helper()
	var out []Stored
	if err := s.After(g, c, func(st Stored) bool { out = append(out, st); return true }); err != nil {
		t.Fatalf("After: %v", err)
	}
	return out
}

func vector(t testing.TB, s *Store, g GroupID) map[string]uint64 {
	t.Helper()
	v, err := s.Vector(g)
	if err != nil {
		t.Fatalf("Vector: %v", err)
	}
	out := make(map[string]uint64, len(v))
	for _, e := range v {
		if _, dup := out[string(e.Author)]; dup {
			t.Fatalf("Vector lists author %q twice", e.Author)
		}
		out[string(e.Author)] = e.Seq
	}
	return out
}

func authorAfter(t testing.TB, s *Store, g GroupID, author string, from uint64) []AuthorIndexEntry {
	t.Helper()
	var out []AuthorIndexEntry
	if err := s.AuthorAfter(g, []byte(author), from, func(e AuthorIndexEntry) bool { out = append(out, e); return true }); err != nil {
		t.Fatalf("AuthorAfter: %v", err)
	}
	return out
}

func idSetOf(ids []MessageID) map[MessageID]bool {
	m := make(map[MessageID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func heads(t testing.TB, s *Store, g GroupID) map[MessageID]bool {
	t.Helper()
	h, err := s.Heads(g, 1<<20)
	if err != nil {
		t.Fatalf("Heads: %v", err)
	}
	m := idSetOf(h)
	if len(m) != len(h) {
		t.Fatalf("Heads has duplicates: %d ids, %d distinct", len(h), len(m))
	}
	return m
}

func missing(t testing.TB, s *Store, g GroupID) map[MessageID]bool {
	t.Helper()
	h, err := s.Missing(g, 1<<20)
	if err != nil {
		t.Fatalf("Missing: %v", err)
	}
	m := idSetOf(h)
	if len(m) != len(h) {
		t.Fatalf("Missing has duplicates: %d ids, %d distinct", len(h), len(m))
	}
	return m
}

func setOf(ids ...MessageID) map[MessageID]bool { return idSetOf(ids) }

// less is display order: (lamport, id).
func less(a, b Stored) bool {
	if a.Lamport != b.Lamport {
		return a.Lamport < b.Lamport
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

func storedOf(m Message) Stored { return Stored{ID: m.ID, Lamport: m.Lamport, Raw: m.Raw} }

// sortedStored returns msgs as Stored, in display order.
func sortedStored(msgs []Message) []Stored {
	out := make([]Stored, len(msgs))
	for i, m := range msgs {
		out[i] = storedOf(m)
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func cursorOf(st Stored) *Cursor { return &Cursor{Lamport: st.Lamport, ID: st.ID} }

func sameStored(t testing.TB, what string, got, want []Stored) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Lamport != want[i].Lamport || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Fatalf("%s: item %d = {lamport %d id %x raw %q}, want {lamport %d id %x raw %q}",
				what, i, got[i].Lamport, got[i].ID[:4], got[i].Raw, want[i].Lamport, want[i].ID[:4], want[i].Raw)
		}
	}
}

// ---- append and dedup ------------------------------------------------------

func TestAppendDedup(t *testing.T) {
	s := openMem(t)
	g := gidOf("dedup")
	m1 := mkMsg(g, 1, "alice", 1, 1)
	m2 := mkMsg(g, 2, "alice", 2, 2, m1.ID)
	m3 := mkMsg(g, 3, "bob", 1, 3, m2.ID)

	if ins := mustAppend(t, s, m1); !reflect.DeepEqual(ins, []bool{true}) {
		t.Fatalf("first append of m1: inserted = %v, want [true]", ins)
	}
	if ins := mustAppend(t, s, m1); !reflect.DeepEqual(ins, []bool{false}) {
		t.Fatalf("second append of m1: inserted = %v, want [false]", ins)
	}
	// Twice within one call.
	if ins := mustAppend(t, s, m2, m2); !reflect.DeepEqual(ins, []bool{true, false}) {
		t.Fatalf("append m2,m2: inserted = %v, want [true false]", ins)
	}
	// A new one mixed with an old one.
	if ins := mustAppend(t, s, m1, m3, m2, m3); !reflect.DeepEqual(ins, []bool{false, true, false, false}) {
		t.Fatalf("append m1,m3,m2,m3: inserted = %v, want [false true false false]", ins)
	}
	// Same id with different content is still a duplicate: the first copy wins.
	forged := m1
	forged.Raw = []byte("something else")
	forged.Lamport = 99
	forged.Seq = 7
	if ins := mustAppend(t, s, forged); !reflect.DeepEqual(ins, []bool{false}) {
		t.Fatalf("append forged m1: inserted = %v, want [false]", ins)
	}

	if st := stats(t, s, g); st.Count != 3 || st.MaxLamport != 3 {
		t.Fatalf("GroupStats = %+v, want {Count:3 MaxLamport:3}", st)
	}
	sameStored(t, "History", history(t, s, g, nil, 100), sortedStored([]Message{m1, m2, m3}))
	sameStored(t, "After", after(t, s, g, nil), sortedStored([]Message{m1, m2, m3}))
	if got := authorAfter(t, s, g, "alice", 0); len(got) != 2 {
		t.Fatalf("AuthorAfter(alice) = %d entries, want 2", len(got))
	}
	if v := vector(t, s, g); !reflect.DeepEqual(v, map[string]uint64{"alice": 2, "bob": 1}) {
		t.Fatalf("Vector = %v", v)
	}

	got, err := s.Get(g, m1.ID)
	if err != nil {
		t.Fatalf("Get(m1): %v", err)
	}
	if !reflect.DeepEqual(got, storedOf(m1)) {
		t.Fatalf("Get(m1) = %+v, want original %+v", got, storedOf(m1))
	}
	if _, err := s.GetAt(g, 99, m1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetAt(forged position) err = %v, want ErrNotFound", err)
	}
}

func TestAppendEmpty(t *testing.T) {
	s := openMem(t)
	ins, err := s.Append(context.Background())
	if err != nil {
		t.Fatalf("Append(): %v", err)
	}
	if len(ins) != 0 {
		t.Fatalf("Append() = %v, want empty", ins)
	}
}

func TestGetHasGetAt(t *testing.T) {
	s := openMem(t)
	g := gidOf("get")
	m := mkMsg(g, 1, "alice", 1, 42)
	if ok, err := s.Has(g, m.ID); err != nil || ok {
		t.Fatalf("Has before append = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.Get(g, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before append err = %v, want ErrNotFound", err)
	}
	mustAppend(t, s, m)
	if ok, err := s.Has(g, m.ID); err != nil || !ok {
		t.Fatalf("Has after append = %v, %v; want true, nil", ok, err)
	}
	got, err := s.Get(g, m.ID)
	if err != nil || !reflect.DeepEqual(got, storedOf(m)) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, storedOf(m))
	}
	got, err = s.GetAt(g, 42, m.ID)
	if err != nil || !reflect.DeepEqual(got, storedOf(m)) {
		t.Fatalf("GetAt = %+v, %v; want %+v", got, err, storedOf(m))
	}
	if _, err := s.GetAt(g, 41, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetAt wrong lamport err = %v, want ErrNotFound", err)
	}
	other := gidOf("other")
	if ok, _ := s.Has(other, m.ID); ok {
		t.Fatal("Has in another group = true")
	}
	if _, err := s.Get(other, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get in another group err = %v, want ErrNotFound", err)
	}
}

// ---- history paging ---------------------------------------------------------

// pagingFixture appends n messages with clustered lamport values (several
// messages share each lamport) in a shuffled order and in chunks of varied
// size. It returns them in display order.
func pagingFixture(t testing.TB, s *Store, g GroupID, n int, seed uint64) []Stored {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	msgs := make([]Message, n)
	seqs := map[string]uint64{}
	for i := range msgs {
		author := fmt.Sprintf("author-%d", i%4)
		seqs[author]++
		// Lamport clusters of 1..4 equal values, with gaps.
		lamport := uint64(10 + (i/3)*2)
		msgs[i] = mkMsg(g, uint64(i)+1000*seed, author, seqs[author], lamport)
	}
	want := sortedStored(msgs)
	// Sanity: the fixture really has ties on lamport.
	ties := 0
	for i := 1; i < len(want); i++ {
		if want[i].Lamport == want[i-1].Lamport {
			ties++
		}
	}
	if ties == 0 {
		t.Fatal("fixture has no equal lamports")
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for len(msgs) > 0 {
		k := min(1+rng.IntN(25), len(msgs))
		if ins := mustAppend(t, s, msgs[:k]...); !allTrue(ins) {
			t.Fatalf("fixture append: inserted = %v", ins)
		}
		msgs = msgs[k:]
	}
	return want
}

func TestHistoryPaging(t *testing.T) {
	s := openMem(t)
	g := gidOf("paging")
	want := pagingFixture(t, s, g, 300, 1)

	if st := stats(t, s, g); st.Count != 300 || st.MaxLamport != want[len(want)-1].Lamport {
		t.Fatalf("GroupStats = %+v, want count 300 max %d", st, want[len(want)-1].Lamport)
	}

	// Newest page.
	page := history(t, s, g, nil, 50)
	sameStored(t, "History(nil, 50)", page, want[len(want)-50:])

	// Walk backwards.
	var pages [][]Stored
	var cur *Cursor
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("paging does not terminate")
		}
		p := history(t, s, g, cur, 50)
		if len(p) == 0 {
			break
		}
		if len(p) > 50 {
			t.Fatalf("page of %d > limit", len(p))
		}
		for j := 1; j < len(p); j++ {
			if !less(p[j-1], p[j]) {
				t.Fatalf("page %d not in ascending (lamport, id) order at %d", i, j)
			}
		}
		pages = append(pages, p)
		cur = cursorOf(p[0])
	}
	if len(pages) != 6 {
		t.Fatalf("got %d pages, want 6", len(pages))
	}
	var all []Stored
	for i := len(pages) - 1; i >= 0; i-- {
		all = append(all, pages[i]...)
	}
	sameStored(t, "History paged backwards", all, want)

	// Uneven page size: the last (oldest) page is short.
	var n int
	cur = nil
	var walked []Stored
	for {
		p := history(t, s, g, cur, 7)
		if len(p) == 0 {
			break
		}
		n++
		walked = append(append([]Stored(nil), p...), walked...)
		cur = cursorOf(p[0])
	}
	if n != 43 { // ceil(300/7)
		t.Fatalf("limit 7: %d pages, want 43", n)
	}
	sameStored(t, "History paged by 7", walked, want)

	// From a cursor in the middle, including one inside a lamport tie.
	for _, k := range []int{0, 1, 2, 3, 149, 150, 151, 298, 299} {
		got := history(t, s, g, cursorOf(want[k]), 1000)
		sameStored(t, fmt.Sprintf("History(before %d)", k), got, want[:k])
		got = history(t, s, g, cursorOf(want[k]), 5)
		sameStored(t, fmt.Sprintf("History(before %d, 5)", k), got, want[max(0, k-5):k])
	}

	// Limits.
	if got := history(t, s, g, nil, 0); len(got) != 0 {
		t.Fatalf("History limit 0 = %d items", len(got))
	}
	if got := history(t, s, g, nil, -1); len(got) != 0 {
		t.Fatalf("History limit -1 = %d items", len(got))
	}
	sameStored(t, "History(nil, 1000)", history(t, s, g, nil, 1000), want)
	sameStored(t, "History(nil, 1)", history(t, s, g, nil, 1), want[299:])
}

func TestAfter(t *testing.T) {
	s := openMem(t)
	g := gidOf("after")
	want := pagingFixture(t, s, g, 300, 2)

	sameStored(t, "After(nil)", after(t, s, g, nil), want)

	for _, k := range []int{0, 1, 2, 3, 100, 150, 151, 298, 299} {
		sameStored(t, fmt.Sprintf("After(%d)", k), after(t, s, g, cursorOf(want[k])), want[k+1:])
	}

	// Early stop.
	var got []Stored
	if err := s.After(g, nil, func(st Stored) bool { got = append(got, st); return len(got) < 10 }); err != nil {
		t.Fatal(err)
	}
	sameStored(t, "After stop at 10", got, want[:10])

	// A cursor at a position that holds no message: next greater (lamport, id).
	var zero MessageID
	var ff MessageID
	for i := range ff {
		ff[i] = 0xff
	}
	lam := want[150].Lamport
	first := sort.Search(len(want), func(i int) bool { return want[i].Lamport >= lam })
	last := sort.Search(len(want), func(i int) bool { return want[i].Lamport > lam })
	sameStored(t, "After(lam, 00..)", after(t, s, g, &Cursor{Lamport: lam, ID: zero}), want[first:])
	sameStored(t, "After(lam, ff..)", after(t, s, g, &Cursor{Lamport: lam, ID: ff}), want[last:])
	sameStored(t, "History(before lam, 00..)", history(t, s, g, &Cursor{Lamport: lam, ID: zero}, 1000), want[:first])
	sameStored(t, "History(before lam, ff..)", history(t, s, g, &Cursor{Lamport: lam, ID: ff}, 1000), want[:last])
	// Between two lamport clusters (the fixture uses even lamports only).
	odd := want[150].Lamport + 1
	split := sort.Search(len(want), func(i int) bool { return want[i].Lamport > odd })
	sameStored(t, "After(odd lamport)", after(t, s, g, &Cursor{Lamport: odd}), want[split:])
	sameStored(t, "History(before odd lamport)", history(t, s, g, &Cursor{Lamport: odd}, 1000), want[:split])
	// Past the end and before the start.
	if got := after(t, s, g, &Cursor{Lamport: math.MaxUint64, ID: ff}); len(got) != 0 {
		t.Fatalf("After(max) = %d items", len(got))
	}
	if got := history(t, s, g, &Cursor{Lamport: 0, ID: zero}, 10); len(got) != 0 {
		t.Fatalf("History(before 0) = %d items", len(got))
	}
}

func TestHistoryEmptyGroup(t *testing.T) {
	s := openMem(t)
	g := gidOf("empty")
	if got := history(t, s, g, nil, 50); len(got) != 0 {
		t.Fatalf("History of empty group = %d", len(got))
	}
	if got := after(t, s, g, nil); len(got) != 0 {
		t.Fatalf("After of empty group = %d", len(got))
	}
	if st := stats(t, s, g); st != (Stats{}) {
		t.Fatalf("GroupStats of empty group = %+v", st)
	}
	if v := vector(t, s, g); len(v) != 0 {
		t.Fatalf("Vector of empty group = %v", v)
	}
	if h := heads(t, s, g); len(h) != 0 {
		t.Fatalf("Heads of empty group = %v", h)
	}
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("Missing of empty group = %v", m)
	}
}

// ---- groups -----------------------------------------------------------------

func TestGroupsIsolated(t *testing.T) {
	s := openMem(t)
	// Adjacent group ids, so that a prefix scan that overruns its group
	// would show up.
	var ga, gb, gc GroupID // 00..00, 00..01, 00..02
	gb[GroupIDLen-1] = 1
	gc[GroupIDLen-1] = 2

	a1 := mkMsg(ga, 1, "alice", 1, 1)
	a2 := mkMsg(ga, 2, "alice", 2, 5, a1.ID, idOf(999))
	b1 := mkMsg(gb, 3, "bob", 1, 2)
	b2 := mkMsg(gb, 4, "alice", 3, 3, b1.ID, idOf(998))
	// The very same message id in two groups is two separate messages.
	shared := mkMsg(ga, 50, "carol", 1, 4)
	sharedB := mkMsg(gb, 50, "carol", 1, 4)
	if !bytes.Equal(shared.ID[:], sharedB.ID[:]) || bytes.Equal(shared.Raw, sharedB.Raw) {
		t.Fatal("fixture: want same id, different raw")
	}
	if ins := mustAppend(t, s, a1, b1, a2, b2, shared, sharedB); !allTrue(ins) {
		t.Fatalf("inserted = %v, want all true", ins)
	}

	sameStored(t, "History(A)", history(t, s, ga, nil, 100), sortedStored([]Message{a1, a2, shared}))
	sameStored(t, "History(B)", history(t, s, gb, nil, 100), sortedStored([]Message{b1, b2, sharedB}))
	sameStored(t, "After(A)", after(t, s, ga, nil), sortedStored([]Message{a1, a2, shared}))
	sameStored(t, "After(B)", after(t, s, gb, nil), sortedStored([]Message{b1, b2, sharedB}))
	if got := history(t, s, gc, nil, 100); len(got) != 0 {
		t.Fatalf("History(C) = %d items", len(got))
	}
	if got := after(t, s, gc, nil); len(got) != 0 {
		t.Fatalf("After(C) = %d items", len(got))
	}

	if st := stats(t, s, ga); st != (Stats{Count: 3, MaxLamport: 5}) {
		t.Fatalf("GroupStats(A) = %+v", st)
	}
	if st := stats(t, s, gb); st != (Stats{Count: 3, MaxLamport: 4}) {
		t.Fatalf("GroupStats(B) = %+v", st)
	}
	if st := stats(t, s, gc); st != (Stats{}) {
		t.Fatalf("GroupStats(C) = %+v", st)
	}

	if v := vector(t, s, ga); !reflect.DeepEqual(v, map[string]uint64{"alice": 2, "carol": 1}) {
		t.Fatalf("Vector(A) = %v", v)
	}
	if v := vector(t, s, gb); !reflect.DeepEqual(v, map[string]uint64{"alice": 0, "bob": 1, "carol": 1}) {
		t.Fatalf("Vector(B) = %v", v)
	}
	if got := authorAfter(t, s, gb, "alice", 0); len(got) != 1 || got[0].ID != b2.ID {
		t.Fatalf("AuthorAfter(B, alice) = %+v", got)
	}
	if got := authorAfter(t, s, ga, "bob", 0); len(got) != 0 {
		t.Fatalf("AuthorAfter(A, bob) = %+v", got)
	}

	if h := heads(t, s, ga); !reflect.DeepEqual(h, setOf(a2.ID, shared.ID)) {
		t.Fatalf("Heads(A) = %d ids", len(h))
	}
	if h := heads(t, s, gb); !reflect.DeepEqual(h, setOf(b2.ID, sharedB.ID)) {
		t.Fatalf("Heads(B) = %d ids", len(h))
	}
	if m := missing(t, s, ga); !reflect.DeepEqual(m, setOf(idOf(999))) {
		t.Fatalf("Missing(A) = %d ids", len(m))
	}
	if m := missing(t, s, gb); !reflect.DeepEqual(m, setOf(idOf(998))) {
		t.Fatalf("Missing(B) = %d ids", len(m))
	}

	// Has/Get are per group.
	if ok, _ := s.Has(gb, a1.ID); ok {
		t.Fatal("Has(B, a1) = true")
	}
	if got, err := s.Get(gb, shared.ID); err != nil || !bytes.Equal(got.Raw, sharedB.Raw) {
		t.Fatalf("Get(B, shared) = %q, %v; want B's copy", got.Raw, err)
	}
	if got, err := s.Get(ga, shared.ID); err != nil || !bytes.Equal(got.Raw, shared.Raw) {
		t.Fatalf("Get(A, shared) = %q, %v; want A's copy", got.Raw, err)
	}

	// A parent named in B does not affect A's heads even if the id is held in A.
	b3 := mkMsg(gb, 5, "bob", 2, 6, a2.ID)
	mustAppend(t, s, b3)
	if h := heads(t, s, ga); !reflect.DeepEqual(h, setOf(a2.ID, shared.ID)) {
		t.Fatal("a parent link in B changed heads of A")
	}
	if m := missing(t, s, gb); !reflect.DeepEqual(m, setOf(idOf(998), a2.ID)) {
		t.Fatal("Missing(B) should list a2 (held only in A)")
	}
}

// ---- vector and author index -------------------------------------------------

func TestVector(t *testing.T) {
	s := openMem(t)
	g := gidOf("vector")
	n := uint64(0)
	msg := func(author string, seq uint64) Message {
		n++
		return mkMsg(g, n, author, seq, n)
	}

	mustAppend(t, s, msg("x", 1), msg("x", 2), msg("x", 4))
	if v := vector(t, s, g); !reflect.DeepEqual(v, map[string]uint64{"x": 2}) {
		t.Fatalf("after x 1,2,4: Vector = %v, want x:2", v)
	}
	mustAppend(t, s, msg("x", 3))
	if v := vector(t, s, g); !reflect.DeepEqual(v, map[string]uint64{"x": 4}) {
		t.Fatalf("after x 3: Vector = %v, want x:4", v)
	}

	// Only a later seq: listed with 0.
	mustAppend(t, s, msg("y", 5))
	if v := vector(t, s, g); !reflect.DeepEqual(v, map[string]uint64{"x": 4, "y": 0}) {
		t.Fatalf("after y 5: Vector = %v, want x:4 y:0", v)
	}
	mustAppend(t, s, msg("y", 1))
	if v := vector(t, s, g); v["y"] != 1 {
		t.Fatalf("after y 1: Vector[y] = %d, want 1", v["y"])
	}
	// Filling the gap in one call, out of order, reaches past the held 5.
	mustAppend(t, s, msg("y", 4), msg("y", 2), msg("y", 3))
	if v := vector(t, s, g); v["y"] != 5 {
		t.Fatalf("after y 4,2,3: Vector[y] = %d, want 5", v["y"])
	}

	// Entirely reversed order in one call.
	mustAppend(t, s, msg("z", 3), msg("z", 2), msg("z", 1))
	if v := vector(t, s, g); v["z"] != 3 {
		t.Fatalf("after z 3,2,1: Vector[z] = %d, want 3", v["z"])
	}
	// Reversed order across calls.
	mustAppend(t, s, msg("w", 3))
	mustAppend(t, s, msg("w", 2))
	if v := vector(t, s, g); v["w"] != 0 {
		t.Fatalf("after w 3,2: Vector[w] = %d, want 0", v["w"])
	}
	mustAppend(t, s, msg("w", 1))
	if v := vector(t, s, g); v["w"] != 3 {
		t.Fatalf("after w 1: Vector[w] = %d, want 3", v["w"])
	}

	// A second message with an already held seq (equivocation) does not
	// move the vector; both are in the author index.
	mustAppend(t, s, msg("x", 2))
	if v := vector(t, s, g); v["x"] != 4 {
		t.Fatalf("after second x 2: Vector[x] = %d, want 4", v["x"])
	}
	if got := authorAfter(t, s, g, "x", 0); len(got) != 5 {
		t.Fatalf("AuthorAfter(x) = %d entries, want 5", len(got))
	}
	// Duplicates do not move it either.
	dup := mkMsg(g, 1, "x", 1, 1)
	if ins := mustAppend(t, s, dup); ins[0] {
		t.Fatal("duplicate inserted")
	}

	// Authors that are prefixes of one another are distinct.
	mustAppend(t, s, msg("ab", 1), msg("abc", 1), msg("abc", 2), msg("a", 2))
	want := map[string]uint64{"x": 4, "y": 5, "z": 3, "w": 3, "ab": 1, "abc": 2, "a": 0}
	if v := vector(t, s, g); !reflect.DeepEqual(v, want) {
		t.Fatalf("Vector = %v, want %v", v, want)
	}

	// Binary authors, including 0x00 and 0xff bytes and the maximum length.
	long := string(bytes.Repeat([]byte{0xff}, maxAuthorLen))
	mustAppend(t, s, msg("\x00", 1), msg("\xff\x00", 1), msg(long, 1), msg(long, 2))
	want["\x00"] = 1
	want["\xff\x00"] = 1
	want[long] = 2
	if v := vector(t, s, g); !reflect.DeepEqual(v, want) {
		t.Fatalf("Vector with binary authors = %v, want %v", v, want)
	}
}

func TestVectorLongRun(t *testing.T) {
	// A long contiguous run completed by its first message.
	s := openMem(t)
	g := gidOf("vector-run")
	var msgs []Message
	for seq := uint64(2); seq <= 500; seq++ {
		msgs = append(msgs, mkMsg(g, seq, "runner", seq, seq))
	}
	mustAppend(t, s, msgs...)
	if v := vector(t, s, g); v["runner"] != 0 {
		t.Fatalf("Vector = %v, want runner:0", v)
	}
	mustAppend(t, s, mkMsg(g, 1, "runner", 1, 1))
	if v := vector(t, s, g); v["runner"] != 500 {
		t.Fatalf("Vector = %v, want runner:500", v)
	}
}

func TestAuthorAfter(t *testing.T) {
	s := openMem(t)
	g := gidOf("author")
	type ent struct {
		seq, lamport uint64
		timeMs       int64
		n            uint64
	}
	ents := []ent{
		{seq: 1, lamport: 10, timeMs: 1000, n: 1},
		{seq: 2, lamport: 12, timeMs: -5, n: 2}, // negative time survives
		{seq: 3, lamport: 11, timeMs: math.MaxInt64, n: 3},
		{seq: 5, lamport: 20, timeMs: math.MinInt64, n: 4},
		{seq: 300, lamport: 21, timeMs: 0, n: 5}, // seq above one byte
		{seq: 1 << 40, lamport: 22, timeMs: 7, n: 6},
	}
	var msgs []Message
	for _, e := range ents {
		m := mkMsg(g, e.n, "alice", e.seq, e.lamport)
		m.TimeMs = e.timeMs
		msgs = append(msgs, m)
	}
	// Noise: other authors, including a prefix of alice and an extension.
	msgs = append(msgs,
		mkMsg(g, 100, "alic", 4, 1),
		mkMsg(g, 101, "alicea", 4, 1),
		mkMsg(g, 102, "bob", 4, 1),
	)
	// Reverse insertion order.
	slices.Reverse(msgs)
	mustAppend(t, s, msgs...)

	wantFrom := func(after uint64) []AuthorIndexEntry {
		var out []AuthorIndexEntry
		for _, e := range ents {
			if e.seq > after {
				out = append(out, AuthorIndexEntry{Seq: e.seq, ID: idOf(e.n), Lamport: e.lamport, TimeMs: e.timeMs})
			}
		}
		return out
	}
	for _, from := range []uint64{0, 1, 2, 3, 4, 5, 299, 300, 1 << 40, 1<<40 + 1} {
		got := authorAfter(t, s, g, "alice", from)
		want := wantFrom(from)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("AuthorAfter(alice, %d) =\n%+v\nwant\n%+v", from, got, want)
		}
	}

	// Early stop.
	var got []AuthorIndexEntry
	if err := s.AuthorAfter(g, []byte("alice"), 0, func(e AuthorIndexEntry) bool {
		got = append(got, e)
		return len(got) < 2
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantFrom(0)[:2]) {
		t.Fatalf("AuthorAfter early stop = %+v", got)
	}

	// Two messages with the same seq are both returned, ordered by id.
	eq := mkMsg(g, 7, "alice", 2, 13)
	mustAppend(t, s, eq)
	got = authorAfter(t, s, g, "alice", 1)
	if len(got) < 2 || got[0].Seq != 2 || got[1].Seq != 2 {
		t.Fatalf("AuthorAfter with equivocation = %+v", got)
	}
	if bytes.Compare(got[0].ID[:], got[1].ID[:]) >= 0 {
		t.Fatal("same-seq entries not in id order")
	}

	if got := authorAfter(t, s, g, "nobody", 0); len(got) != 0 {
		t.Fatalf("AuthorAfter(unknown) = %+v", got)
	}
	if got := authorAfter(t, s, gidOf("other"), "alice", 0); len(got) != 0 {
		t.Fatalf("AuthorAfter(other group) = %+v", got)
	}

	for _, a := range [][]byte{nil, {}, bytes.Repeat([]byte("a"), maxAuthorLen+1)} {
		err := s.AuthorAfter(g, a, 0, func(AuthorIndexEntry) bool { t.Fatal("callback called"); return true })
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("AuthorAfter(author len %d) err = %v, want ErrInvalid", len(a), err)
		}
	}
}

// ---- heads and missing -------------------------------------------------------

func TestHeadsAndMissing(t *testing.T) {
	s := openMem(t)
	g := gidOf("heads")

	m1 := mkMsg(g, 1, "a", 1, 1)
	m2 := mkMsg(g, 2, "a", 2, 2, m1.ID)
	mustAppend(t, s, m1)
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(m1.ID)) {
		t.Fatalf("heads after m1 = %d ids, want {m1}", len(h))
	}
	mustAppend(t, s, m2)
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(m2.ID)) {
		t.Fatalf("heads after m2 = %d ids, want {m2}", len(h))
	}
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("missing = %d ids, want none", len(m))
	}

	// Fork: two children of m2, then a merge.
	f1 := mkMsg(g, 3, "a", 3, 3, m2.ID)
	f2 := mkMsg(g, 4, "b", 1, 3, m2.ID)
	mustAppend(t, s, f1, f2)
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(f1.ID, f2.ID)) {
		t.Fatalf("heads after fork = %d ids, want {f1 f2}", len(h))
	}
	merge := mkMsg(g, 5, "b", 2, 4, f1.ID, f2.ID)
	mustAppend(t, s, merge)
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(merge.ID)) {
		t.Fatalf("heads after merge = %d ids, want {merge}", len(h))
	}

	// Child before parent, across calls.
	c1 := mkMsg(g, 10, "c", 1, 5, merge.ID)
	c2 := mkMsg(g, 11, "c", 2, 6, c1.ID)
	c3 := mkMsg(g, 12, "c", 3, 7, c2.ID)
	mustAppend(t, s, c3)
	if m := missing(t, s, g); !reflect.DeepEqual(m, setOf(c2.ID)) {
		t.Fatalf("missing after c3 = %d ids, want {c2}", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(merge.ID, c3.ID)) {
		t.Fatalf("heads after c3 = %d ids, want {merge c3}", len(h))
	}
	mustAppend(t, s, c2)
	if m := missing(t, s, g); !reflect.DeepEqual(m, setOf(c1.ID)) {
		t.Fatalf("missing after c2 = %d ids, want {c1}", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(merge.ID, c3.ID)) {
		t.Fatalf("heads after c2 = %d ids, want {merge c3}: c2 has a child", len(h))
	}
	mustAppend(t, s, c1)
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("missing after c1 = %d ids, want none", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(c3.ID)) {
		t.Fatalf("heads after c1 = %d ids, want {c3}", len(h))
	}

	// Child before parent within one call.
	d1 := mkMsg(g, 20, "d", 1, 8, c3.ID)
	d2 := mkMsg(g, 21, "d", 2, 9, d1.ID)
	mustAppend(t, s, d2, d1)
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("missing after d2,d1 = %d ids, want none", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(d2.ID)) {
		t.Fatalf("heads after d2,d1 = %d ids, want {d2}", len(h))
	}

	// A duplicate with different parents changes nothing.
	dupe := d1
	dupe.Parents = []MessageID{idOf(777)}
	if ins := mustAppend(t, s, dupe); ins[0] {
		t.Fatal("duplicate inserted")
	}
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("duplicate added to missing: %d ids", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(d2.ID)) {
		t.Fatal("duplicate changed heads")
	}

	// Limit.
	e1 := mkMsg(g, 30, "e", 1, 10, idOf(901), idOf(902), idOf(903))
	e2 := mkMsg(g, 31, "f", 1, 10)
	mustAppend(t, s, e1, e2)
	if got, err := s.Heads(g, 2); err != nil || len(got) != 2 {
		t.Fatalf("Heads(limit 2) = %d, %v", len(got), err)
	}
	if got, err := s.Heads(g, 1); err != nil || len(got) != 1 {
		t.Fatalf("Heads(limit 1) = %d, %v", len(got), err)
	}
	if got, err := s.Missing(g, 2); err != nil || len(got) != 2 {
		t.Fatalf("Missing(limit 2) = %d, %v", len(got), err)
	}
	if m := missing(t, s, g); !reflect.DeepEqual(m, setOf(idOf(901), idOf(902), idOf(903))) {
		t.Fatalf("missing = %d ids, want 3", len(m))
	}
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(d2.ID, e1.ID, e2.ID)) {
		t.Fatalf("heads = %d ids, want 3", len(h))
	}
}

// ---- persistence -------------------------------------------------------------

type snapshot struct {
	history  []Stored
	vector   []AuthorSeq
	heads    map[MessageID]bool
	missing  map[MessageID]bool
	stats    Stats
	authors  map[string][]AuthorIndexEntry
	groups   []Group
	peers    []Peer
	settings map[string][]byte
}

func takeSnapshot(t testing.TB, s *Store, gs []GroupID, authors []string, settings []string) map[GroupID]snapshot {
	t.Helper()
	out := map[GroupID]snapshot{}
	groups, err := s.Groups()
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	peers, err := s.Peers()
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	set := map[string][]byte{}
	for _, name := range settings {
		v, err := s.Setting(name)
		if err != nil {
			t.Fatalf("Setting(%q): %v", name, err)
		}
		set[name] = v
	}
	for _, g := range gs {
		v, err := s.Vector(g)
		if err != nil {
			t.Fatal(err)
		}
		sn := snapshot{
			history:  history(t, s, g, nil, 1<<20),
			vector:   v,
			heads:    heads(t, s, g),
			missing:  missing(t, s, g),
			stats:    stats(t, s, g),
			authors:  map[string][]AuthorIndexEntry{},
			groups:   groups,
			peers:    peers,
			settings: set,
		}
		for _, a := range authors {
			sn.authors[a] = authorAfter(t, s, g, a, 0)
		}
		out[g] = sn
	}
	return out
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)

	ga, gb := gidOf("persist-a"), gidOf("persist-b")
	authors := []string{"alice", "bob", "carol"}
	var all []Message
	n := uint64(0)
	for _, g := range []GroupID{ga, gb} {
		seqs := map[string]uint64{}
		var prev []MessageID
		for i := 0; i < 120; i++ {
			n++
			a := authors[i%3]
			seqs[a]++
			seq := seqs[a]
			if a == "carol" && seq == 3 {
				continue // a gap: carol's vector stays at 2
			}
			m := mkMsg(g, n, a, seq, uint64(i/2+1), prev...)
			if i%10 == 0 {
				m.Parents = append(m.Parents, idOf(100000+n)) // never held
			}
			prev = []MessageID{m.ID}
			all = append(all, m)
		}
	}
	// Large raw bodies go to Badger's value log.
	all[5].Raw = bytes.Repeat([]byte{0xab}, 64<<10)
	all[6].Raw = bytes.Repeat([]byte{0xcd}, 2<<10)
	if ins := mustAppend(t, s, all...); !allTrue(ins) {
		t.Fatal("not all inserted")
	}

	grp := []Group{
		{ID: ga, Name: "Group A", Secret: []byte{1, 2, 3}, CreatedMs: 10, JoinedMs: 20, HistoryFromJoin: true},
		{ID: gb, Name: "Gruppe B ✓", Secret: bytes.Repeat([]byte{9}, 32), CreatedMs: -1, JoinedMs: 0},
	}
	for _, g := range grp {
		if err := s.PutGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []Peer{
		{ID: []byte("peer-1"), Addrs: [][]byte{[]byte("/ip4/127.0.0.1/tcp/1"), []byte("/ip6/::1/udp/2/quic-v1")}, LastSeenMs: 123},
		{ID: []byte{0, 1, 0xff}, LastSeenMs: 456},
	} {
		if err := s.PutPeer(p); err != nil {
			t.Fatal(err)
		}
	}
	settings := map[string][]byte{"name": []byte("Ada"), "key": bytes.Repeat([]byte{7}, 64), "empty": {}}
	var names []string
	for k, v := range settings {
		names = append(names, k)
		if err := s.PutSetting(k, v); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(names)

	before := takeSnapshot(t, s, []GroupID{ga, gb}, authors, names)
	if got := before[ga].stats; got.Count != 119 {
		t.Fatalf("stats(A) before = %+v, want 119", got)
	}
	if got := vector(t, s, ga); !reflect.DeepEqual(got, map[string]uint64{"alice": 40, "bob": 40, "carol": 2}) {
		t.Fatalf("vector(A) before = %v", got)
	}
	if len(before[ga].missing) != 12 || len(before[ga].heads) != 1 {
		t.Fatalf("A: %d missing %d heads, want 12 and 1", len(before[ga].missing), len(before[ga].heads))
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s2 := openDir(t, dir)
	defer s2.Close()
	after := takeSnapshot(t, s2, []GroupID{ga, gb}, authors, names)
	for _, g := range []GroupID{ga, gb} {
		if !reflect.DeepEqual(before[g], after[g]) {
			t.Fatalf("group %x differs after reopen:\nbefore %+v\nafter  %+v", g[:4], before[g].stats, after[g].stats)
		}
	}
	sameStored(t, "history after reopen", after[ga].history, sortedStored(all[:119]))
	for name, v := range settings {
		got, err := s2.Setting(name)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Setting(%q) after reopen = %q, %v", name, got, err)
		}
	}
	for _, g := range grp {
		got, err := s2.GetGroup(g.ID)
		if err != nil || !reflect.DeepEqual(got, g) {
			t.Fatalf("GetGroup after reopen = %+v, %v; want %+v", got, err, g)
		}
	}

	// The reopened store keeps deduplicating and counting from where it was.
	if ins := mustAppend(t, s2, all[0], all[200]); countTrue(ins) != 0 {
		t.Fatalf("re-append after reopen inserted %v", ins)
	}
	carol3 := mkMsg(ga, 5000, "carol", 3, 100)
	if ins := mustAppend(t, s2, carol3); !ins[0] {
		t.Fatal("new message after reopen not inserted")
	}
	if st := stats(t, s2, ga); st.Count != 120 || st.MaxLamport != 100 {
		t.Fatalf("stats after reopen append = %+v", st)
	}
	if v := vector(t, s2, ga); v["carol"] != 40 {
		t.Fatalf("carol after filling gap after reopen = %d, want 40", v["carol"])
	}
}

// ---- concurrency -------------------------------------------------------------

func TestConcurrentAppend(t *testing.T) {
	s := openMem(t)
	g := gidOf("concurrent")
	const (
		workers   = 8
		perWorker = 200
		stride    = 150 // worker w appends n in [w*stride, w*stride+perWorker): 50 overlap with the next
		nAuthors  = 5
	)
	msgFor := func(n uint64) Message {
		// Fully determined by n, so overlapping appends are identical.
		return mkMsg(g, n, fmt.Sprintf("author-%d", n%nAuthors), n/nAuthors+1, n/7+1)
	}

	type result struct {
		ids      []uint64
		inserted []bool
		err      error
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			ns := make([]uint64, perWorker)
			for i := range ns {
				ns[i] = uint64(w*stride + i)
			}
			rng.Shuffle(len(ns), func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
			r := &results[w]
			for len(ns) > 0 {
				k := min(1+rng.IntN(8), len(ns))
				batch := make([]Message, k)
				for i := range batch {
					batch[i] = msgFor(ns[i])
				}
				ins, err := s.Append(context.Background(), batch...)
				if err != nil {
					r.err = err
					return
				}
				if len(ins) != k {
					r.err = fmt.Errorf("got %d results for %d", len(ins), k)
					return
				}
				r.ids = append(r.ids, ns[:k]...)
				r.inserted = append(r.inserted, ins...)
				ns = ns[k:]
			}
		}(w)
	}
	close(start)
	wg.Wait()

	insertedBy := map[uint64]int{}
	seen := map[uint64]bool{}
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("worker %d: %v", w, r.err)
		}
		if len(r.ids) != perWorker {
			t.Fatalf("worker %d appended %d, want %d", w, len(r.ids), perWorker)
		}
		for i, n := range r.ids {
			seen[n] = true
			if r.inserted[i] {
				insertedBy[n]++
			}
		}
	}
	distinct := (workers-1)*stride + perWorker
	if len(seen) != distinct {
		t.Fatalf("fixture: %d distinct ids, want %d", len(seen), distinct)
	}
	for n := range seen {
		if insertedBy[n] != 1 {
			t.Fatalf("id %d reported inserted %d times, want exactly 1", n, insertedBy[n])
		}
	}
	if st := stats(t, s, g); st.Count != uint64(distinct) {
		t.Fatalf("GroupStats.Count = %d, want %d", st.Count, distinct)
	}
	var want []Message
	for n := range uint64(distinct) {
		want = append(want, msgFor(n))
	}
	sameStored(t, "History after concurrent appends", history(t, s, g, nil, 1<<20), sortedStored(want))
	wantVec := map[string]uint64{}
	for n := range uint64(distinct) {
		m := msgFor(n)
		wantVec[string(m.Author)] = max(wantVec[string(m.Author)], m.Seq)
	}
	if v := vector(t, s, g); !reflect.DeepEqual(v, wantVec) {
		t.Fatalf("Vector = %v, want %v", v, wantVec)
	}
}

// Appends racing with Close either fail with ErrClosed or are durable.
func TestAppendRacingClose(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	g := gidOf("race-close")
	const workers, per = 4, 50
	type res struct {
		stored []uint64
		err    error
	}
	results := make([]res, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				n := uint64(w*per + i)
				ins, err := s.Append(context.Background(), mkMsg(g, n, fmt.Sprintf("w%d", w), uint64(i+1), n))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					results[w].err = err
					return
				}
				if !ins[0] {
					results[w].err = fmt.Errorf("msg %d not inserted", n)
					return
				}
				results[w].stored = append(results[w].stored, n)
			}
		}(w)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if _, err := s.Append(context.Background(), mkMsg(g, 9999, "late", 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close err = %v, want ErrClosed", err)
	}

	s2 := openDir(t, dir)
	defer s2.Close()
	total := 0
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("worker %d: %v", w, r.err)
		}
		for _, n := range r.stored {
			if ok, err := s2.Has(g, idOf(n)); err != nil || !ok {
				t.Fatalf("message %d acknowledged but not present after reopen (%v)", n, err)
			}
		}
		total += len(r.stored)
	}
	if st := stats(t, s2, g); st.Count < uint64(total) {
		t.Fatalf("count after reopen %d < acknowledged %d", st.Count, total)
	}
}

// ---- large batch -------------------------------------------------------------

func TestLargeBatch(t *testing.T) {
	s := openMem(t)
	g := gidOf("large")
	const total = 5000
	if total <= 2*maxBatch {
		t.Fatalf("fixture too small for maxBatch %d", maxBatch)
	}
	msgs := make([]Message, total)
	var prev []MessageID
	for i := range msgs {
		msgs[i] = mkMsg(g, uint64(i), fmt.Sprintf("a%d", i%3), uint64(i/3+1), uint64(i+1), prev...)
		prev = []MessageID{msgs[i].ID}
	}
	// Newest first: every child arrives before its parent (exercising gaps
	// that open and close across the internal transaction boundaries), and
	// each author's vector advances once, by a walk over all of its seqs.
	// (In seq order each message would advance the vector with its own
	// iterator, which is quadratic in the transaction size; see report.)
	rev := slices.Clone(msgs)
	slices.Reverse(rev)
	ins := mustAppend(t, s, rev...)
	if !allTrue(ins) {
		t.Fatalf("%d of %d inserted", countTrue(ins), total)
	}
	if st := stats(t, s, g); st.Count != total || st.MaxLamport != total {
		t.Fatalf("GroupStats = %+v, want {%d %d}", st, total, total)
	}
	sameStored(t, "History", history(t, s, g, nil, 2*total), sortedStored(msgs))
	if h := heads(t, s, g); !reflect.DeepEqual(h, setOf(msgs[total-1].ID)) {
		t.Fatalf("heads = %d ids, want the last message", len(h))
	}
	if m := missing(t, s, g); len(m) != 0 {
		t.Fatalf("missing = %d ids", len(m))
	}
	wantVec := map[string]uint64{"a0": 1667, "a1": 1667, "a2": 1666}
	if v := vector(t, s, g); !reflect.DeepEqual(v, wantVec) {
		t.Fatalf("Vector = %v, want %v", v, wantVec)
	}
	if got := authorAfter(t, s, g, "a1", 0); len(got) != 1667 {
		t.Fatalf("AuthorAfter(a1) = %d entries", len(got))
	}

	// Appending all again (plus one new, at the end) inserts only the new one.
	again := append(slices.Clone(msgs), mkMsg(g, total, "a0", 1668, total+1, msgs[total-1].ID))
	ins = mustAppend(t, s, again...)
	if countTrue(ins) != 1 || !ins[total] {
		t.Fatalf("re-append inserted %d (last=%v), want only the new one", countTrue(ins), ins[total])
	}
	if st := stats(t, s, g); st.Count != total+1 {
		t.Fatalf("GroupStats.Count = %d, want %d", st.Count, total+1)
	}
	// Duplicates in a batch that crosses a transaction boundary.
	fresh := make([]Message, 0, 2*maxBatch+10)
	for i := 0; i < maxBatch+5; i++ {
		m := mkMsg(g, uint64(10000+i), "dup", uint64(maxBatch+5-i), uint64(total+2))
		fresh = append(fresh, m, m)
	}
	ins = mustAppend(t, s, fresh...)
	for i := range ins {
		if ins[i] != (i%2 == 0) {
			t.Fatalf("inserted[%d] = %v", i, ins[i])
		}
	}
	if v := vector(t, s, g); v["dup"] != maxBatch+5 {
		t.Fatalf("Vector[dup] = %d, want %d", v["dup"], maxBatch+5)
	}
	if st := stats(t, s, g); st.Count != total+1+maxBatch+5 {
		t.Fatalf("GroupStats.Count = %d, want %d", st.Count, total+1+maxBatch+5)
	}
}

// ---- invalid input -----------------------------------------------------------

func TestAppendInvalid(t *testing.T) {
	s := openMem(t)
	g := gidOf("invalid")
	good := mkMsg(g, 1, "alice", 1, 1)

	cases := map[string]func(m *Message){
		"nil author":   func(m *Message) { m.Author = nil },
		"empty author": func(m *Message) { m.Author = []byte{} },
		"long author":  func(m *Message) { m.Author = bytes.Repeat([]byte("x"), maxAuthorLen+1) },
		"very long":    func(m *Message) { m.Author = bytes.Repeat([]byte("x"), 4096) },
		"seq 0":        func(m *Message) { m.Seq = 0 },
		"nil raw":      func(m *Message) { m.Raw = nil },
		"empty raw":    func(m *Message) { m.Raw = []byte{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			bad := mkMsg(g, 2, "bob", 1, 2)
			mutate(&bad)
			ins, err := s.Append(context.Background(), bad)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Append err = %v, want ErrInvalid", err)
			}
			if ins != nil {
				t.Fatalf("inserted = %v, want nil", ins)
			}
			// A bad message poisons the whole call: the good one is not stored.
			ins, err = s.Append(context.Background(), good, bad)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Append(good, bad) err = %v, want ErrInvalid", err)
			}
			if ins != nil {
				t.Fatalf("inserted = %v, want nil", ins)
			}
			if st := stats(t, s, g); st != (Stats{}) {
				t.Fatalf("something was stored: %+v", st)
			}
			if got := history(t, s, g, nil, 10); len(got) != 0 {
				t.Fatalf("history has %d messages", len(got))
			}
			if v := vector(t, s, g); len(v) != 0 {
				t.Fatalf("vector = %v", v)
			}
			if ok, _ := s.Has(g, good.ID); ok {
				t.Fatal("good message stored")
			}
		})
	}

	// Boundary values are accepted.
	edge := mkMsg(g, 3, string(bytes.Repeat([]byte("x"), maxAuthorLen)), math.MaxUint64, 0)
	edge.Raw = []byte{0}
	if ins := mustAppend(t, s, edge); !ins[0] {
		t.Fatal("255-byte author, max seq, lamport 0, 1-byte raw not inserted")
	}
	if got, err := s.Get(g, edge.ID); err != nil || !bytes.Equal(got.Raw, []byte{0}) || got.Lamport != 0 {
		t.Fatalf("Get(edge) = %+v, %v", got, err)
	}

	if err := s.PutPeer(Peer{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutPeer(empty id) err = %v, want ErrInvalid", err)
	}
}

// ---- close -------------------------------------------------------------------

func TestClose(t *testing.T) {
	s, err := Open("", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("close")
	mustAppend(t, s, mkMsg(g, 1, "a", 1, 1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ins, err := s.Append(context.Background(), mkMsg(g, 2, "a", 2, 2))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close err = %v, want ErrClosed", err)
	}
	if ins != nil {
		t.Fatalf("Append after Close inserted = %v", ins)
	}
	if _, err := s.Append(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("empty Append after Close err = %v, want ErrClosed", err)
	}
	// Reads after Close fail instead of panicking.
	if _, err := s.History(g, nil, 10); err == nil {
		t.Fatal("History after Close succeeded")
	}
	if _, err := s.GroupStats(g); err == nil {
		t.Fatal("GroupStats after Close succeeded")
	}
}

func TestCloseDisk(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Append(context.Background(), mkMsg(gidOf("x"), 1, "a", 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close err = %v, want ErrClosed", err)
	}
	// The directory can be opened again (the lock was released).
	s2 := openDir(t, dir)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

// ---- settings, groups, peers -------------------------------------------------

func TestSettings(t *testing.T) {
	s := openMem(t)
	if _, err := s.Setting("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Setting(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.PutSetting("name", []byte("Ada")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting("key", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Setting("name"); err != nil || string(v) != "Ada" {
		t.Fatalf("Setting(name) = %q, %v", v, err)
	}
	if v, err := s.Setting("key"); err != nil || !bytes.Equal(v, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("Setting(key) = %x, %v", v, err)
	}
	// Overwrite.
	if err := s.PutSetting("name", []byte("Grace")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Setting("name"); err != nil || string(v) != "Grace" {
		t.Fatalf("Setting(name) after overwrite = %q, %v", v, err)
	}
	// The returned slice is a copy.
	v, _ := s.Setting("name")
	v[0] = 'X'
	if v2, _ := s.Setting("name"); string(v2) != "Grace" {
		t.Fatalf("Setting returned an alias: %q", v2)
	}
	// Empty value is stored and distinct from absent.
	if err := s.PutSetting("empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Setting("empty"); err != nil || len(v) != 0 {
		t.Fatalf("Setting(empty) = %q, %v", v, err)
	}
	// Prefix names are distinct.
	if _, err := s.Setting("nam"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Setting(nam) err = %v, want ErrNotFound", err)
	}
}

func TestGroupsRecords(t *testing.T) {
	s := openMem(t)
	if gs, err := s.Groups(); err != nil || len(gs) != 0 {
		t.Fatalf("Groups on empty store = %v, %v", gs, err)
	}
	if _, err := s.GetGroup(gidOf("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetGroup(unknown) err = %v, want ErrNotFound", err)
	}
	a := Group{ID: gidOf("a"), Name: "A", Secret: []byte("s3cret"), CreatedMs: 1, JoinedMs: 2, HistoryFromJoin: true}
	b := Group{ID: gidOf("b"), Name: "", Secret: nil, CreatedMs: 0, JoinedMs: 0}
	for _, g := range []Group{a, b} {
		if err := s.PutGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetGroup(a.ID); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("GetGroup(a) = %+v, %v; want %+v", got, err, a)
	}
	if got, err := s.GetGroup(b.ID); err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("GetGroup(b) = %+v, %v; want %+v", got, err, b)
	}
	// Replace.
	a2 := a
	a2.Name = "A renamed"
	a2.HistoryFromJoin = false
	if err := s.PutGroup(a2); err != nil {
		t.Fatal(err)
	}
	gs, err := s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[GroupID]Group{}
	for _, g := range gs {
		byID[g.ID] = g
	}
	if len(gs) != 2 || len(byID) != 2 || !reflect.DeepEqual(byID[a.ID], a2) || !reflect.DeepEqual(byID[b.ID], b) {
		t.Fatalf("Groups = %+v", gs)
	}
	// Messages in a group do not show up as groups.
	mustAppend(t, s, mkMsg(a.ID, 1, "x", 1, 1))
	if gs, _ := s.Groups(); len(gs) != 2 {
		t.Fatalf("Groups after append = %d", len(gs))
	}
}

func TestMembers(t *testing.T) {
	s := openMem(t)
	ga, gb := gidOf("members-a"), gidOf("members-b")
	if ms, err := s.Members(ga); err != nil || len(ms) != 0 {
		t.Fatalf("Members on empty store = %v, %v", ms, err)
	}
	alice := Member{Author: []byte("alice-key"), DisplayName: "Alice", FirstSeenMs: 10}
	bob := Member{Author: []byte{0, 0xff}, FirstSeenMs: 20}
	carol := Member{Author: []byte("carol-key"), DisplayName: "Carol", FirstSeenMs: 30}
	for _, m := range []Member{alice, bob} {
		if err := s.PutMember(ga, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMember(gb, carol); err != nil {
		t.Fatal(err)
	}
	alice2 := alice
	alice2.DisplayName = "Alice L."
	if err := s.PutMember(ga, alice2); err != nil {
		t.Fatal(err)
	}
	byAuthor := func(ms []Member) map[string]Member {
		out := map[string]Member{}
		for _, m := range ms {
			out[string(m.Author)] = m
		}
		return out
	}
	ms, err := s.Members(ga)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Member{string(alice.Author): alice2, string(bob.Author): bob}
	if len(ms) != 2 || !reflect.DeepEqual(byAuthor(ms), want) {
		t.Fatalf("Members(A) = %+v", ms)
	}
	ms, err = s.Members(gb)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !reflect.DeepEqual(ms[0], carol) {
		t.Fatalf("Members(B) = %+v", ms)
	}
	for _, a := range [][]byte{nil, bytes.Repeat([]byte("a"), maxAuthorLen+1)} {
		if err := s.PutMember(ga, Member{Author: a}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("PutMember(author len %d) err = %v, want ErrInvalid", len(a), err)
		}
	}
	if ms, _ := s.Members(ga); len(ms) != 2 {
		t.Fatalf("invalid PutMember stored something: %d members", len(ms))
	}
}

func TestPeersRecords(t *testing.T) {
	s := openMem(t)
	if ps, err := s.Peers(); err != nil || len(ps) != 0 {
		t.Fatalf("Peers on empty store = %v, %v", ps, err)
	}
	p1 := Peer{ID: []byte("12D3KooW-one"), Addrs: [][]byte{[]byte("/ip4/10.0.0.1/tcp/4001")}, LastSeenMs: 100}
	p2 := Peer{ID: []byte{0xff, 0x00}, Addrs: nil, LastSeenMs: -1}
	for _, p := range []Peer{p1, p2} {
		if err := s.PutPeer(p); err != nil {
			t.Fatal(err)
		}
	}
	p1b := p1
	p1b.Addrs = [][]byte{[]byte("/ip4/10.0.0.2/tcp/4001"), []byte("/dns4/example.invalid/tcp/1")}
	p1b.LastSeenMs = 200
	if err := s.PutPeer(p1b); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Peers()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Peer{}
	for _, p := range ps {
		byID[string(p.ID)] = p
	}
	if len(ps) != 2 || !reflect.DeepEqual(byID[string(p1.ID)], p1b) || !reflect.DeepEqual(byID[string(p2.ID)], p2) {
		t.Fatalf("Peers = %+v", ps)
	}
}

// ---- regressions ----------------------------------------------------------------
//
// Defects found while writing the tests above, now fixed.

// AuthorAfter(after = MaxUint64) computes after+1, which wraps to 0, so it
// returns the author's whole index instead of nothing (read.go, AuthorAfter).
func TestRegressionAuthorAfterMaxSeq(t *testing.T) {
	s := openMem(t)
	g := gidOf("bug-maxseq")
	mustAppend(t, s, mkMsg(g, 1, "alice", 1, 1), mkMsg(g, 2, "alice", 2, 2))
	if got := authorAfter(t, s, g, "alice", math.MaxUint64); len(got) != 0 {
		t.Fatalf("AuthorAfter(alice, MaxUint64) = %d entries, want 0", len(got))
	}
}

// History(g, nil, n) seeks (in reverse) to m/<gid> followed by nine 0xff
// bytes. A message whose lamport is MaxUint64 and whose id starts with 0xff
// has a key greater than that, so the newest page misses it.
func TestRegressionHistoryMaxLamport(t *testing.T) {
	s := openMem(t)
	g := gidOf("bug-maxlamport")
	var n uint64
	for n = 0; idOf(n)[0] != 0xff; n++ {
	}
	top := mkMsg(g, n, "alice", 1, math.MaxUint64)
	low := mkMsg(g, n+1, "alice", 2, 1)
	mustAppend(t, s, top, low)
	sameStored(t, "After(nil)", after(t, s, g, nil), sortedStored([]Message{low, top}))
	sameStored(t, "History(nil, 10)", history(t, s, g, nil, 10), sortedStored([]Message{low, top}))
}

// writeBatch handles badger.ErrTxnTooBig by flush()ing and retrying, but
// flush first writes the group counters into the transaction that is already
// full, so when the entry-count limit was hit the flush itself fails with
// ErrTxnTooBig and the whole batch (every caller in the group commit) fails.
// 1024 messages with 16 parents each (node.MaxParents, one sync batch) can
// never be stored.
func TestRegressionTxnTooBigFailsBatch(t *testing.T) {
	s := openMem(t)
	g := gidOf("bug-toobig-batch")
	const total, nParents = 1024, 16
	msgs := make([]Message, total)
	for i := range msgs {
		var parents []MessageID
		for j := 0; j < nParents; j++ {
			parents = append(parents, idOf(uint64(1_000_000+i*nParents+j))) // never held
		}
		// seq starts at 2 so that advanceVector never scans (keeps this fast).
		msgs[i] = mkMsg(g, uint64(i), "alice", uint64(i+2), uint64(i+1), parents...)
	}
	ins, err := s.Append(context.Background(), msgs...)
	if err != nil {
		t.Fatalf("Append(%d msgs with %d parents): %v", total, nParents, err)
	}
	if !allTrue(ins) {
		t.Errorf("%d of %d inserted", countTrue(ins), total)
	}
	if st := stats(t, s, g); st.Count != total {
		t.Errorf("GroupStats.Count = %d, want %d", st.Count, total)
	}
	if m := missing(t, s, g); len(m) != total*nParents {
		t.Errorf("Missing = %d ids, want %d", len(m), total*nParents)
	}
}

// When the transaction hits Badger's size limit (rather than its entry-count
// limit) in the middle of insert(), flush() commits the message's partial
// writes (m/, i/, a/, h/ and some parent markers) and the retry then finds
// i/<id> and reports the message as a duplicate: Append returns no error,
// inserted=false for a new message, and the message is held but not counted,
// its author vector not advanced and only some of its parents recorded.
func TestRegressionTxnTooBigPartialInsert(t *testing.T) {
	// Which entry crosses the limit depends on exact sizes, so try a few.
	for _, raw := range []int{1005, 1015, 1023} {
		t.Run(fmt.Sprint(raw), func(t *testing.T) {
			s := openMem(t)
			g := gidOf("bug-toobig-partial")
			var msgs []Message
			// Fill most of the transaction's byte budget with few entries.
			for i := 0; i < maxBatch-1; i++ {
				m := mkMsg(g, uint64(i), "filler", uint64(i+2), uint64(i+1))
				m.Raw = bytes.Repeat([]byte{1}, raw)
				msgs = append(msgs, m)
			}
			var parents []MessageID
			for j := 0; j < 6000; j++ {
				parents = append(parents, idOf(uint64(1_000_000+j)))
			}
			big := mkMsg(g, 5000, "big", 1, 5000, parents...)
			msgs = append(msgs, big)
			ins, err := s.Append(context.Background(), msgs...)
			held, _ := s.Has(g, big.ID)
			st := stats(t, s, g)
			n := uint64(len(history(t, s, g, nil, 1<<20)))
			if st.Count != n {
				t.Errorf("GroupStats.Count = %d but %d messages held (err %v)", st.Count, n, err)
			}
			if err == nil && !ins[len(ins)-1] {
				t.Errorf("new message reported as duplicate (held: %v)", held)
			}
			if held {
				if v := vector(t, s, g); v["big"] != 1 {
					t.Errorf("message held but Vector[big] = %d, want 1", v["big"])
				}
				if m := missing(t, s, g); len(m) != len(parents) {
					t.Errorf("message held but Missing = %d ids, want %d", len(m), len(parents))
				}
			}
		})
	}
}

// Received messages are readable as soon as AppendReceived returns; the
// background syncer then fsyncs them, and they survive a reopen.
func TestAppendReceivedSyncsInBackground(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithSyncEvery(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("lazy")
	recv := mkMsg(g, 1, "bob", 1, 1)
	ins, err := s.AppendReceived(context.Background(), recv)
	if err != nil || !allTrue(ins) {
		t.Fatalf("AppendReceived = %v, %v", ins, err)
	}
	if has, err := s.Has(g, recv.ID); err != nil || !has {
		t.Fatalf("received message not readable at once: %v %v", has, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.unsynced.Load() {
		if time.Now().After(deadline) {
			t.Fatal("background sync never ran")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	re := openDir(t, dir)
	defer re.Close()
	if has, err := re.Has(g, recv.ID); err != nil || !has {
		t.Fatalf("received message lost over a reopen: %v %v", has, err)
	}
}

// An own Append fsyncs the whole log, received writes before it included;
// Close syncs what is still pending.
func TestAppendCoversEarlierReceived(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithSyncEvery(time.Hour)) // the background syncer never fires
	if err != nil {
		t.Fatal(err)
	}
	g := gidOf("prefix")
	if _, err := s.AppendReceived(context.Background(), mkMsg(g, 1, "bob", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if !s.unsynced.Load() {
		t.Fatal("a received write should be marked unsynced")
	}
	mustAppend(t, s, mkMsg(g, 2, "alice", 1, 2, idOf(1)))
	if s.unsynced.Load() {
		t.Fatal("an own Append must fsync everything written before it")
	}
	if _, err := s.AppendReceived(context.Background(), mkMsg(g, 3, "bob", 2, 3, idOf(2))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	re := openDir(t, dir)
	defer re.Close()
	for n := uint64(1); n <= 3; n++ {
		if has, err := re.Has(g, idOf(n)); err != nil || !has {
			t.Fatalf("message %d lost over a reopen: %v %v", n, has, err)
		}
	}
}

func TestRelatedFindsMessagesNamingATarget(t *testing.T) {
	s := openMem(t)
	g := gidOf("rel")
	target := mkMsg(g, 1, "alice", 1, 1)
	mustAppend(t, s, target)
	var want []MessageID
	for i := uint64(1); i <= 3; i++ {
		m := mkMsg(g, 10+i, "bob", i, 1+i)
		m.Targets = []MessageID{target.ID}
		want = append(want, m.ID)
		mustAppend(t, s, m)
	}
	mustAppend(t, s, mkMsg(g, 20, "carol", 1, 9))
	var got []MessageID
	if err := s.Related(g, target.ID, func(st Stored) bool { got = append(got, st.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("related = %x, want %x", got, want)
	}
	tooMany := mkMsg(g, 30, "dave", 1, 10)
	tooMany.Targets = make([]MessageID, maxTargets+1)
	if _, err := s.Append(context.Background(), tooMany); !errors.Is(err, ErrInvalid) {
		t.Fatalf("append with %d targets: %v, want ErrInvalid", maxTargets+1, err)
	}
}
