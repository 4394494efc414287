package store

import (
	"errors"
	"reflect"
	"testing"
)

// The bootstrap list is one value: written whole, read back in the same
// order, replaced (not merged) by the next write, and kept across a reopen.
func TestBootstrapPeers(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	t.Cleanup(func() { s.Close() })
	if ps, err := s.BootstrapPeers(); err != nil || len(ps) != 0 {
		t.Fatalf("empty store: %v, %v", ps, err)
	}
	want := []Peer{
		{ID: []byte("newest"), Addrs: [][]byte{[]byte("a1"), []byte("a2")}, LastSeenMs: 300},
		{ID: []byte("older"), LastSeenMs: 200},
		{ID: []byte("oldest"), Addrs: [][]byte{[]byte("a3")}, LastSeenMs: 100},
	}
	if err := s.PutBootstrapPeers(want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.BootstrapPeers(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("BootstrapPeers = %+v, %v; want %+v", got, err, want)
	}
	// Bootstrap candidates are not remembered peers (those are redialled).
	if ps, err := s.Peers(); err != nil || len(ps) != 0 {
		t.Fatalf("Peers = %v, %v; want none", ps, err)
	}
	if err := s.PutBootstrapPeers([]Peer{{ID: []byte("x")}, {}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: err = %v, want ErrInvalid", err)
	}
	want = want[:1]
	if err := s.PutBootstrapPeers(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir) // the cleanup above closes this one
	if got, err := s.BootstrapPeers(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
	if err := s.PutBootstrapPeers(nil); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.BootstrapPeers(); err != nil || len(ps) != 0 {
		t.Fatalf("cleared: %v, %v", ps, err)
	}
}
