package store

import (
	"errors"
	"testing"
)

func TestContactsAndPairs(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContact([]byte("p1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing contact: %v", err)
	}
	if err := s.PutContact(Contact{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty peer accepted: %v", err)
	}
	g := GroupID{1, 2, 3}
	c1 := Contact{Peer: []byte("p1"), Name: "ana", Key: []byte{9}, Addrs: [][]byte{{1}}, AddedMs: 5}
	c2 := Contact{Peer: []byte("p2"), Name: "bo", Blocked: true, Pair: g}
	for _, c := range []Contact{c1, c2} {
		if err := s.PutContact(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutPair(Pair{Group: g, Peer: []byte("p2"), Pending: true, Tries: 2, NextMs: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPair(Pair{Group: g}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pair without peer accepted: %v", err)
	}
	// Durable across a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, err := s.Contacts()
	if err != nil || len(cs) != 2 || cs[0].Name != "ana" || cs[1].Name != "bo" || !cs[1].Blocked || cs[1].Pair != g || string(cs[0].Key) != "\x09" {
		t.Fatalf("contacts %+v %v", cs, err)
	}
	p, err := s.GetPair(g)
	if err != nil || string(p.Peer) != "p2" || !p.Pending || p.Tries != 2 || p.NextMs != 7 {
		t.Fatalf("pair %+v %v", p, err)
	}
	ps, err := s.Pairs()
	if err != nil || len(ps) != 1 {
		t.Fatalf("pairs %+v %v", ps, err)
	}
	if err := s.DeleteContact([]byte("p1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContact([]byte("p1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted contact: %v", err)
	}
	// Contacts live apart from groups and settings.
	if gs, _ := s.Groups(); len(gs) != 0 {
		t.Fatalf("groups %v", gs)
	}
}
