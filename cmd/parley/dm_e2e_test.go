package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

type e2eContact struct {
	Name         string `json:"name"`
	PeerID       string `json:"peer_id"`
	SafetyNumber string `json:"safety_number"`
	Blocked      bool   `json:"blocked"`
	DM           string `json:"dm"`
}

// TestDMEndToEnd: the exact CLI forms `parley contact code`, `parley
// contact add CODE` and `parley dm CONTACT TEXT`, both ways, and
// `parley contacts --json`, `parley contact block`.
func TestDMEndToEnd(t *testing.T) {
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	startDaemon(t, bin, "alice", homeA)
	startDaemon(t, bin, "bob", homeB)
	idA := strings.TrimSpace(mustRun(t, bin, homeA, "init"))

	code := strings.TrimSpace(mustRun(t, bin, homeB, "contact", "code"))
	if !strings.HasPrefix(code, "parleyc1") || strings.ContainsAny(code, " \n") {
		t.Fatalf("contact code %q", code)
	}
	short := strings.TrimSpace(mustRun(t, bin, homeB, "contact", "code", "--no-addrs"))
	if len(short) >= len(code) || len(short) > 200 {
		t.Fatalf("code without addresses: %d chars (with: %d)", len(short), len(code))
	}
	if out := mustRun(t, bin, homeA, "contact", "add", code); !strings.Contains(out, "bob") {
		t.Fatalf("contact add: %q", out)
	}
	id := strings.TrimSpace(mustRun(t, bin, homeA, "dm", "bob", "hello bob"))
	if len(id) != 64 {
		t.Fatalf("dm printed %q, want a message id", id)
	}
	contacts := func(home string) []e2eContact {
		var cs []e2eContact
		out := mustRun(t, bin, home, "contacts", "--json")
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatalf("contacts --json: %v\n%s", err, out)
		}
		return cs
	}
	texts := func(home, group string) []string {
		r := run(t, bin, home, "history", group, "--json")
		var ms []struct {
			Text string `json:"text"`
			Kind string `json:"kind"`
		}
		json.Unmarshal([]byte(r.stdout), &ms)
		var out []string
		for _, m := range ms {
			if m.Kind == "text" {
				out = append(out, m.Text)
			}
		}
		return out
	}
	var dm string
	poll(t, 30*time.Second, "bob to get alice's conversation", func() (bool, string) {
		cs := contacts(homeB)
		if len(cs) != 1 || cs[0].PeerID != idA || cs[0].DM == "" {
			return false, mustRun(t, bin, homeB, "contacts", "--json")
		}
		dm = cs[0].DM
		got := texts(homeB, dm)
		return slices.Contains(got, "hello bob"), strings.Join(got, "|")
	})
	if cs := contacts(homeA); len(cs) != 1 || cs[0].DM != dm || cs[0].Name != "bob" || cs[0].SafetyNumber == "" || cs[0].Blocked {
		t.Fatalf("alice's contacts %+v, conversation %s", cs, dm)
	}
	mustRun(t, bin, homeB, "dm", "alice", "hello alice")
	poll(t, 30*time.Second, "alice to read bob", func() (bool, string) {
		got := texts(homeA, dm)
		return slices.Contains(got, "hello alice"), strings.Join(got, "|")
	})
	// Listed with the groups, marked, named after the contact.
	var gs []struct {
		ID, Name, Kind string
	}
	json.Unmarshal([]byte(mustRun(t, bin, homeA, "groups", "--json")), &gs)
	if len(gs) != 1 || gs[0].ID != dm || gs[0].Kind != "dm" || gs[0].Name != "bob" {
		t.Fatalf("alice's groups %+v", gs)
	}
	// Blocked, bob's next message is refused.
	mustRun(t, bin, homeA, "contact", "block", "bob")
	if cs := contacts(homeA); !cs[0].Blocked {
		t.Fatalf("not blocked: %+v", cs)
	}
	if r := run(t, bin, homeA, "dm", "bob", "x"); r.code == 0 || !strings.Contains(r.stderr, "blocked") {
		t.Fatalf("dm to a blocked contact: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, bin, homeA, "contact", "unblock", "bob")
}
