package membership

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newID(t testing.TB) Identity {
	t.Helper()
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// group makes a group owned by owner with the given extra members (plain
// members, added by the owner).
func group(t testing.TB, owner Identity, members ...Identity) *Log {
	t.Helper()
	l, _, err := Create(owner, "owner", "group", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := l.AddMember(owner, m.Key(), HPKEPublic(m.HPKE), "m", t0); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// fork copies a log (a replica that has seen the same ops).
func fork(t testing.TB, l *Log) *Log {
	t.Helper()
	ops := l.Ops()
	c, err := NewLog(ops[0])
	if err != nil {
		t.Fatal(err)
	}
	syncFrom(t, c, l)
	return c
}

// syncFrom inserts every op of src into dst (src's order is topological).
func syncFrom(t testing.TB, dst, src *Log) {
	t.Helper()
	for _, o := range src.Ops() {
		if _, err := dst.Insert(o); err != nil {
			t.Fatalf("sync %s: %v", o.Kind, err)
		}
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func secretOf(t testing.TB, l *Log, id Identity) []byte {
	t.Helper()
	s, err := l.State().OpenEpochSecret(l.State().Current().ID, id.Key(), id.HPKE)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bothOrders runs a race scenario until both outcomes of the total order
// have been seen (the order of two concurrent ops depends on their random
// ids, each way with probability 1/2; 64 runs miss one with odds 2^-63).
func bothOrders(t *testing.T, race func(*testing.T) bool) {
	t.Helper()
	var seen [2]bool
	for i := 0; i < 64 && !(seen[0] && seen[1]); i++ {
		if race(t) {
			seen[1] = true
		} else {
			seen[0] = true
		}
	}
	if !seen[0] || !seen[1] {
		t.Fatal("one order never came up")
	}
}
