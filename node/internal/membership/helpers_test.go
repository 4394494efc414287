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
