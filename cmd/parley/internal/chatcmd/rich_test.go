package chatcmd

import (
	"strings"
	"testing"
)

type richFake struct{ rec }

func (f *richFake) Reply(ref, text string) error {
	f.calls = append(f.calls, "reply "+ref+"|"+text)
	return nil
}
func (f *richFake) React(ref, e string, rm bool) error {
	op := "react "
	if rm {
		op = "unreact "
	}
	f.calls = append(f.calls, op+ref+"|"+e)
	return nil
}
func (f *richFake) Edit(ref, text string) error {
	f.calls = append(f.calls, "edit "+ref+"|"+text)
	return nil
}
func (f *richFake) Delete(ref string) error { f.calls = append(f.calls, "delete "+ref); return nil }

func TestRichCommands(t *testing.T) {
	f := &richFake{}
	for _, line := range []string{"/reply 3 hi there", "/react #2 👍", "/unreact 2 👍", "/edit abcdef12 new text", "/delete 4"} {
		if err := Run(f, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	want := "reply 3|hi there,react #2|👍,unreact 2|👍,edit abcdef12|new text,delete 4"
	if got := strings.Join(f.calls, ","); got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
	for _, bad := range []string{"/reply 3", "/react 2", "/react 2 a b", "/delete 1 2"} {
		if err := Run(f, bad); err == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
	help := strings.Join(HelpLines(f), "\n")
	if !strings.Contains(help, "/reply N TEXT") || strings.Index(help, "/delete") > strings.Index(help, "/peers") {
		t.Fatalf("help:\n%s", help)
	}
}

func TestNumbers(t *testing.T) {
	var n Numbers
	a, b := "aa"+strings.Repeat("0", 62), "bb"+strings.Repeat("0", 62)
	if n.Of(a) != 1 || n.Of(b) != 2 || n.Of(a) != 1 {
		t.Fatal("numbers not stable")
	}
	if n.Resolve("#2") != b || n.Resolve("1") != a || n.Resolve("7") != "7" || n.Resolve("12345678") != "12345678" {
		t.Fatal("resolve")
	}
}
