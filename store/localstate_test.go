package store

import (
	"errors"
	"testing"
)

func TestLocalStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LocalState("read/x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	if err := s.PutLocalState("read/x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLocalState("", []byte("1")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.LocalState("read/x"); err != nil || string(v) != "1" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
	if err := s.DeleteLocalState("read/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LocalState("read/x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}
