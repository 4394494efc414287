package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type e2ePoll struct {
	ID      string `json:"id"`
	Closed  bool   `json:"closed"`
	Options []struct {
		Text   string            `json:"text"`
		Count  int               `json:"count"`
		Mine   bool              `json:"mine"`
		Voters []json.RawMessage `json:"voters"`
	} `json:"options"`
	Anonymous bool  `json:"anonymous"`
	MyChoices []int `json:"my_choices"`
}

func showPoll(t *testing.T, bin, home, group, id string) (e2ePoll, string) {
	t.Helper()
	r := run(t, bin, home, "poll", "show", group, id, "--json")
	if r.code != 0 {
		return e2ePoll{}, r.stderr
	}
	var p e2ePoll
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("poll show --json: %v\n%s", err, r.stdout)
	}
	return p, r.stdout
}

func pollCounts(p e2ePoll) []int {
	var out []int
	for _, o := range p.Options {
		out = append(out, o.Count)
	}
	return out
}

func eqInts(a, b []int) bool { return fmtInts(a) == fmtInts(b) }

func fmtInts(a []int) string {
	var b strings.Builder
	for _, v := range a {
		b.WriteString(string(rune('0'+v)) + ",")
	}
	return b.String()
}

// The CLI's poll forms, with daemons and without.
func TestPollsEndToEnd(t *testing.T) {
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	startDaemon(t, bin, "alice", homeA)
	db := startDaemon(t, bin, "bob", homeB)
	mustRun(t, bin, homeA, "group", "create", "Club")
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Club"))
	mustRun(t, bin, homeB, "group", "join", code)

	id := strings.TrimSpace(mustRun(t, bin, homeA, "poll", "create", "Club", "Lunch?", "pizza", "sushi", "tacos"))
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("poll create printed %q, want a 64-digit hex id", id)
	}
	short := id[:8]
	poll(t, 30*time.Second, "bob has the poll", func() (bool, string) {
		p, out := showPoll(t, bin, homeB, "Club", short)
		return p.ID == id, out
	})
	mustRun(t, bin, homeB, "poll", "vote", "Club", short, "2")
	poll(t, 30*time.Second, "alice counts bob's vote", func() (bool, string) {
		p, out := showPoll(t, bin, homeA, "Club", id)
		return eqInts(pollCounts(p), []int{0, 1, 0}) && !p.Closed && len(p.Options[1].Voters) == 1, out
	})
	// Change the vote; an invalid number is refused.
	mustRun(t, bin, homeB, "poll", "vote", "Club", short, "3")
	if r := run(t, bin, homeB, "poll", "vote", "Club", short, "4"); r.code == 0 || !strings.HasPrefix(r.stderr, "parley: ") {
		t.Fatalf("vote for option 4 of 3: exit %d %q", r.code, r.stderr)
	}
	if r := run(t, bin, homeB, "poll", "vote", "Club", short, "1", "2"); r.code == 0 {
		t.Fatal("two choices in a single-choice poll accepted")
	}
	poll(t, 30*time.Second, "alice sees the changed vote", func() (bool, string) {
		p, out := showPoll(t, bin, homeA, "Club", id)
		return eqInts(pollCounts(p), []int{0, 0, 1}), out
	})
	// Bob (a plain member, not the creator) cannot close; alice can.
	if r := run(t, bin, homeB, "poll", "close", "Club", short); r.code == 0 || !strings.Contains(r.stderr, "not authorized") {
		t.Fatalf("bob closing: exit %d %q", r.code, r.stderr)
	}
	mustRun(t, bin, homeA, "poll", "close", "Club", short)
	poll(t, 30*time.Second, "bob sees it closed", func() (bool, string) {
		p, out := showPoll(t, bin, homeB, "Club", short)
		return p.Closed, out
	})
	if r := run(t, bin, homeB, "poll", "vote", "Club", short, "1"); r.code == 0 || !strings.Contains(r.stderr, "closed") {
		t.Fatalf("vote after close: exit %d %q", r.code, r.stderr)
	}
	text := mustRun(t, bin, homeA, "poll", "show", "Club", short)
	if !strings.Contains(text, "Lunch?") || !strings.Contains(text, "closed") || !strings.Contains(text, "tacos 1") {
		t.Fatalf("poll show:\n%s", text)
	}

	// Anonymous, multiple choice; then without a running node.
	anon := strings.TrimSpace(mustRun(t, bin, homeA, "poll", "create", "Club", "Days?", "mon", "tue", "wed", "--multi", "--anonymous"))
	poll(t, 30*time.Second, "bob has the anonymous poll", func() (bool, string) {
		p, out := showPoll(t, bin, homeB, "Club", anon)
		return p.ID == anon && p.Anonymous, out
	})
	db.stop(t)
	mustRun(t, bin, homeB, "poll", "vote", "Club", anon, "1", "3") // no node: stored, sent later
	p, out := showPoll(t, bin, homeB, "Club", anon)                // no node: read from the store
	if !eqInts(pollCounts(p), []int{1, 0, 1}) || !eqInts(p.MyChoices, []int{0, 2}) || strings.Contains(out, `"voters"`) {
		t.Fatalf("offline view of the anonymous poll: %s", out)
	}
	startDaemon(t, bin, "bob", homeB)
	poll(t, 60*time.Second, "alice gets bob's offline vote", func() (bool, string) {
		p, out := showPoll(t, bin, homeA, "Club", anon)
		return eqInts(pollCounts(p), []int{1, 0, 1}) && !strings.Contains(out, `"voters"`), out
	})
}
