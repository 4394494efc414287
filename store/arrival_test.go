package store

import (
	"reflect"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// A message that arrives late but sorts early in history (written during a
// partition) still comes after everything received before it in arrival
// order: a reader's "new since I looked" sees it.
func TestArrivalOrder(t *testing.T) {
	s := openMem(t)
	g := gidOf("arrivals")
	a := mkMsg(g, 1, "alice", 1, 10)
	b := mkMsg(g, 2, "alice", 2, 20, a.ID)
	mustAppend(t, s, a, b)
	seen := stats(t, s, g).Count     // the reader looks here
	late := mkMsg(g, 3, "bob", 1, 5) // lower clock, arrives after the look
	mustAppend(t, s, late)
	if h := history(t, s, g, nil, 10); h[0].ID != late.ID {
		t.Fatalf("history does not put the late message first: %+v", h)
	}
	got := arrivedAfter(t, s, g, seen)
	if !reflect.DeepEqual(got, []Stored{storedOf(late)}) {
		t.Fatalf("ArrivedAfter(%d) = %+v, want the late message alone", seen, got)
	}
	if got := arrivedAfter(t, s, g, 0); len(got) != 3 || got[0].ID != a.ID || got[2].ID != late.ID {
		t.Fatalf("ArrivedAfter(0) = %+v", got)
	}
	// A duplicate takes no number.
	mustAppend(t, s, late)
	if n := stats(t, s, g).Count; n != 3 {
		t.Fatalf("count after a duplicate = %d", n)
	}
	// A cursor position (before schema 5) counts what history holds up to it.
	if n, err := s.ArrivalsThrough(g, Cursor{Lamport: b.Lamport, ID: b.ID}); err != nil || n != 3 {
		t.Fatalf("ArrivalsThrough(b) = %d, %v; want 3", n, err)
	}
	if n, err := s.ArrivalsThrough(g, Cursor{Lamport: a.Lamport, ID: a.ID}); err != nil || n != 2 {
		t.Fatalf("ArrivalsThrough(a) = %d, %v; want 2", n, err)
	}
	// ... or, for a message held, what arrived up to it: the late message
	// sorts before b but arrived after it.
	for _, c := range []struct {
		m    Message
		want uint64
	}{{a, 1}, {b, 2}, {late, 3}} {
		if n, ok, err := s.ArrivalOf(g, Cursor{Lamport: c.m.Lamport, ID: c.m.ID}); err != nil || !ok || n != c.want {
			t.Fatalf("ArrivalOf(%x) = %d, %v, %v; want %d", c.m.ID[:4], n, ok, err, c.want)
		}
	}
	if _, ok, err := s.ArrivalOf(g, Cursor{Lamport: 99, ID: idOf(424242)}); err != nil || ok {
		t.Fatalf("ArrivalOf(a message not held) = %v, %v; want false", ok, err)
	}
	if _, ok, err := s.ArrivalOf(gidOf("other"), Cursor{Lamport: a.Lamport, ID: a.ID}); err != nil || ok {
		t.Fatalf("ArrivalOf in another group = %v, %v; want false", ok, err)
	}
}

// The schema 5 migration stopped mid-way (a crash) numbers the same way
// when it runs again.
func TestArrivalMigrationCrash(t *testing.T) {
	dir := copyDir(t, "testdata/v3")
	openCrashing(t, dir, 5, 7, 1)
	rawDB(t, dir, func(db *badger.DB) {
		if v, n := schemaOf(t, db), countPrefix(t, db, 'A'); v != 4 || n != 14 {
			t.Fatalf("after a crash: schema %d, %d A/ keys; want 4, 14", v, n)
		}
	})
	s := openDir(t, dir)
	verifyFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawDB(t, dir, func(db *badger.DB) {
		if v, n := schemaOf(t, db), countPrefix(t, db, 'A'); v != SchemaVersion || n != 40 {
			t.Fatalf("after resuming: schema %d, %d A/ keys", v, n)
		}
	})
}
