package chatcmd

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// rec records the actions a command takes.
type rec struct {
	calls []string
	help  []string
}

func (r *rec) add(s string) error        { r.calls = append(r.calls, s); return nil }
func (r *rec) Quit()                     { r.add("quit") }
func (r *rec) ShowHelp(lines []string)   { r.help = lines }
func (r *rec) Create(name string) error  { return r.add("create " + name) }
func (r *rec) Join(code string) error    { return r.add("join " + code) }
func (r *rec) Invite(group string) error { return r.add("invite " + group) }
func (r *rec) Switch(group string) error { return r.add("switch " + group) }
func (r *rec) ListGroups() error         { return r.add("groups") }
func (r *rec) ListMembers() error        { return r.add("members") }
func (r *rec) ListPeers() error          { return r.add("peers") }

type histRec struct{ rec }

func (h *histRec) ShowHistory(n int) error { return h.add("history " + strconv.Itoa(n)) }

type profRec struct{ rec }

func (p *profRec) Profile(name string) error { return p.add("profile " + name) }

func TestParse(t *testing.T) {
	cases := []struct {
		in, text string
		cmd      bool
	}{
		{"hello", "hello", false},
		{"  hello ", "  hello ", false},
		{"/create X", "/create X", true},
		{"  /quit ", "/quit", true},
		{"//not a command", "/not a command", false},
		{"a /b", "a /b", false},
	}
	for _, c := range cases {
		text, cmd := Parse(c.in)
		if text != c.text || cmd != c.cmd {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", c.in, text, cmd, c.text, c.cmd)
		}
	}
}

func TestRun(t *testing.T) {
	r := &histRec{}
	for _, line := range []string{"/create Book club", "/new X", "/join parley1 abc\n def", "/invite", "/invite Fam",
		"/switch Fam", "/s F", "/GO F", "/groups", "/members", "/peers", "/history", "/history 12", "/quit", "/exit", "/q"} {
		if err := Run(r, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	want := []string{"create Book club", "create X", "join parley1abcdef", "invite ", "invite Fam", "switch Fam", "switch F",
		"switch F", "groups", "members", "peers", "history 20", "history 12", "quit", "quit", "quit"}
	if strings.Join(r.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls:\n%v\nwant\n%v", r.calls, want)
	}
	for _, c := range []struct{ line, msg string }{
		{"/create", "usage: /create NAME"},
		{"/join  ", "usage: /join CODE"},
		{"/switch", "usage: /switch GROUP"},
		{"/history x", "usage: /history [N]"},
		{"/history 0", "usage: /history [N]"},
	} {
		err := Run(r, c.line)
		if !errors.Is(err, ErrUsage) || err.Error() != c.msg {
			t.Errorf("%s: %v, want %q", c.line, err, c.msg)
		}
	}
	if err := Run(r, "/nope x"); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "/nope") {
		t.Errorf("unknown: %v", err)
	}
	// A front end without profiles does not offer /profile.
	if err := Run(r, "/profile x"); !errors.Is(err, ErrUnknown) {
		t.Errorf("/profile on a front without profiles: %v", err)
	}
	p := &profRec{}
	if err := Run(p, "/profiles b"); err != nil || p.calls[0] != "profile b" {
		t.Errorf("/profiles b: %v %v", err, p.calls)
	}
	if err := Run(p, "/history"); !errors.Is(err, ErrUnknown) {
		t.Errorf("/history on a front without it: %v", err)
	}
}

func TestHelpFromTable(t *testing.T) {
	h := &histRec{}
	if err := Run(h, "/help"); err != nil {
		t.Fatal(err)
	}
	p := &profRec{}
	if err := Run(p, "/?"); err != nil {
		t.Fatal(err)
	}
	for _, c := range table {
		for _, f := range []struct {
			name  string
			front Front
			help  []string
		}{{"line", h, h.help}, {"tui", p, p.help}} {
			listed := false
			for _, l := range f.help {
				if strings.HasPrefix(l, c.Usage()+" ") && strings.HasSuffix(l, c.Help) {
					listed = true
				}
			}
			if listed != c.Offered(f.front) {
				t.Errorf("%s help: %s listed %v, offered %v\n%s", f.name, c.Usage(), listed, c.Offered(f.front), strings.Join(f.help, "\n"))
			}
		}
	}
	if len(h.help) != len(Commands(h))+1 || !strings.HasPrefix(h.help[len(h.help)-1], "//text") {
		t.Errorf("help lines: %q", h.help)
	}
}
