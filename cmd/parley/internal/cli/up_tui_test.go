package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, v := range []any{&bytes.Buffer{}, f, nil} {
		if isTerminal(v) {
			t.Errorf("isTerminal(%T) = true", v)
		}
	}
}

func TestListProfiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	for _, d := range []string{"default/store", "b/store", "notaprofile"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, "b", "api.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := listProfiles("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "b" || !ps[0].Running || ps[0].Current || ps[1].Name != "default" || !ps[1].Current {
		t.Errorf("profiles = %+v", ps)
	}
}

// The full-screen chat needs a terminal on both ends; anything else (the
// e2e tests, scripts) gets the line chat, as does --plain.
func TestUpHasPlainFlag(t *testing.T) {
	a := &app{}
	up := a.upCmd()
	if up.Flags().Lookup("plain") == nil {
		t.Fatal("up has no --plain")
	}
}
