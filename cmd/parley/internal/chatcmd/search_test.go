package chatcmd

import (
	"errors"
	"testing"
)

type searchFront struct {
	rec
	query string
	open  int
}

func (f *searchFront) Search(q string) error  { f.query = q; return nil }
func (f *searchFront) OpenResult(n int) error { f.open = n; return nil }

func TestSearchCommands(t *testing.T) {
	f := &searchFront{}
	if err := Run(f, "/search  café au lait "); err != nil || f.query != "café au lait" {
		t.Fatalf("/search: %v %q", err, f.query)
	}
	if err := Run(f, "/find x y"); err != nil || f.query != "x y" {
		t.Fatalf("/find: %v %q", err, f.query)
	}
	if err := Run(f, "/open 3"); err != nil || f.open != 3 {
		t.Fatalf("/open: %v %d", err, f.open)
	}
	for _, bad := range []string{"/open", "/open zero", "/open 0", "/search"} {
		if err := Run(f, bad); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	names := map[string]int{}
	for i, c := range Commands(f) {
		names[c.Name] = i
	}
	if names["search"] == 0 || names["open"] != names["search"]+1 || names["help"] != names["open"]+1 {
		t.Fatalf("order %v", names)
	}
}
