package chatcmd

import (
	"errors"
	"testing"
)

type dmFront struct {
	rec
	got []string
}

func (f *dmFront) DM(contact, text string) error { f.got = append(f.got, contact+"|"+text); return nil }
func (f *dmFront) ContactCode() error            { f.got = append(f.got, "code"); return nil }

func TestDMCommand(t *testing.T) {
	f := &dmFront{}
	if err := Run(f, "/dm ana  hello there "); err != nil {
		t.Fatal(err)
	}
	if err := Run(f, "/contact"); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 2 || f.got[0] != "ana|hello there" || f.got[1] != "code" {
		t.Fatalf("got %q", f.got)
	}
	if err := Run(f, "/dm ana"); !errors.Is(err, ErrUsage) {
		t.Fatalf("no text: %v", err)
	}
	// A front without direct messages does not offer them.
	if err := Run(&rec{}, "/dm ana hi"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("offered to a plain front: %v", err)
	}
	cs := Commands(f)
	if cs[len(cs)-2].Name != "help" {
		t.Fatalf("help not near the end: %s", cs[len(cs)-2].Name)
	}
}
