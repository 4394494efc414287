package chatcmd

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type memRec struct{ rec }

func (m *memRec) SetName(name string) error  { return m.add("name " + name) }
func (m *memRec) Remove(member string) error { return m.add("remove " + member) }
func (m *memRec) Leave() error               { return m.add("leave") }
func (m *memRec) InviteLimited(group string, expires time.Duration, uses int) error {
	return m.add(fmt.Sprintf("limited %q %v %d", group, expires, uses))
}

func TestMemberCommands(t *testing.T) {
	m := &memRec{}
	for _, line := range []string{"/name Alice B", "/remove bob", "/kick 12D3Koo", "/leave", "/invite", "/invite Fam",
		"/invite --uses 1", "/invite Fam --expires 24h", "/invite --expires=2d --uses=3 Book club"} {
		if err := Run(m, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	want := []string{"name Alice B", "remove bob", "remove 12D3Koo", "leave", "invite ", "invite Fam",
		`limited "" 0s 1`, `limited "Fam" 24h0m0s 0`, `limited "Book club" 48h0m0s 3`}
	if strings.Join(m.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls:\n%q\nwant\n%q", m.calls, want)
	}
	for _, line := range []string{"/name", "/remove", "/invite --uses", "/invite --uses -1", "/invite --expires soon", "/invite --expires 0h"} {
		if err := Run(m, line); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v, want a usage error", line, err)
		}
	}
	// A front without membership does not offer the commands, nor limited invites.
	r := &rec{}
	for _, line := range []string{"/name x", "/remove x", "/leave"} {
		if err := Run(r, line); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s on a plain front: %v", line, err)
		}
	}
	if err := Run(r, "/invite --uses 1"); !errors.Is(err, ErrUsage) {
		t.Errorf("limited invite on a plain front: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"24h": 24 * time.Hour, "90m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1d": 24 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "x", "-1h", "0d", "1.5d", "99999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
