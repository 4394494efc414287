package profile

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley/store"
)

func quiet() store.Option { return store.WithLogger(slog.New(slog.DiscardHandler)) }

func TestOpenCreatesPrivateDir(t *testing.T) {
	t.Setenv("PARLEY_HOME", filepath.Join(t.TempDir(), "home"))
	p, err := Open("work")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p.Dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir %s: %v %v", p.Dir, fi.Mode(), err)
	}
	for _, bad := range []string{"", "..", "../x", "a/b", ".hidden", "x y"} {
		if _, err := Open(bad); err == nil {
			t.Fatalf("profile name %q accepted", bad)
		}
	}
}

// Locked while open: a second open fails with ErrLocked.
func TestOpenStoreLocked(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := Open(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.OpenStore(quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := p.OpenStore(quiet()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestRuntimeFiles(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := Open("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.ReadRuntime(); !errors.Is(err, ErrNoRuntime) {
		t.Fatalf("no runtime: %v", err)
	}
	tok, err := NewToken()
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q %v", tok, err)
	}
	if err := p.WriteRuntime(Runtime{Addr: "127.0.0.1:1234", PID: 7}, tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p.TokenFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v %v", fi.Mode(), err)
	}
	rt, got, err := p.ReadRuntime()
	if err != nil || got != tok || rt.Addr != "127.0.0.1:1234" || rt.PID != 7 {
		t.Fatalf("read back %+v %q %v", rt, got, err)
	}
	if err := p.RemoveRuntime(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.ReadRuntime(); !errors.Is(err, ErrNoRuntime) {
		t.Fatalf("after remove: %v", err)
	}
	if err := p.RemoveRuntime(); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	entries, _ := os.ReadDir(p.Dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
