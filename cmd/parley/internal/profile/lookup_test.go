package profile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	if _, err := Lookup("typo"); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("missing profile: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Lookup created the profile directory: %v", err)
	}
	if _, err := Lookup("../x"); err == nil || errors.Is(err, ErrNoProfile) {
		t.Fatalf("invalid name: %v", err)
	}
	p, err := Open("real")
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	q, err := Lookup("real")
	if err != nil || q.Dir != p.Dir {
		t.Fatalf("existing profile: %v %v", q, err)
	}
}
