package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

type e2eRichMsg struct {
	ID        string `json:"id"`
	Author    string `json:"author"`
	Text      string `json:"text"`
	ReplyTo   string `json:"reply_to"`
	Reactions []struct {
		Emoji string `json:"emoji"`
		Count int    `json:"count"`
	} `json:"reactions"`
	Edited  bool `json:"edited"`
	Deleted bool `json:"deleted"`
}

var msgIDLine = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// TestRichEndToEnd drives the exact CLI forms: send (printing the id, with
// --reply, from stdin), react (--remove), edit, delete, history --json and
// the human history; refusals for a non-author edit and a non-admin delete;
// and send/react/history without a running node.
func TestRichEndToEnd(t *testing.T) {
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	dA := startDaemon(t, bin, "alice", homeA)
	startDaemon(t, bin, "bob", homeB)
	mustRun(t, bin, homeA, "group", "create", "Club")
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Club"))
	mustRun(t, bin, homeB, "group", "join", code)

	send := func(home string, args ...string) string {
		t.Helper()
		out := mustRun(t, bin, home, append([]string{"send", "Club"}, args...)...)
		if !msgIDLine.MatchString(out) {
			t.Fatalf("send printed %q, want one message id line", out)
		}
		return strings.TrimSpace(out)
	}
	history := func(home string) (map[string]e2eRichMsg, string) {
		t.Helper()
		r := run(t, bin, home, "history", "Club", "--json")
		if r.code != 0 {
			return nil, r.stderr
		}
		var raw []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatalf("history --json: %v\n%s", err, r.stdout)
		}
		for _, m := range raw {
			for _, k := range []string{"id", "author", "text", "reply_to", "reactions", "edited", "deleted"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("history --json message lacks %q: %s", k, r.stdout)
				}
			}
		}
		var ms []e2eRichMsg
		_ = json.Unmarshal([]byte(r.stdout), &ms)
		out := map[string]e2eRichMsg{}
		for _, m := range ms {
			out[m.ID] = m
		}
		return out, r.stdout
	}

	id1 := send(homeA, "hello", "club")
	poll(t, 30*time.Second, "bob to hold alice's message", func() (bool, string) {
		h, s := history(homeB)
		_, ok := h[id1]
		return ok, s
	})
	id2 := send(homeB, "a reply", "--reply", id1[:8])
	mustRun(t, bin, homeB, "react", "Club", id1, "👍")
	// Reactions show in (Lamport clock, id) order of their first op: alice
	// reacts once she holds bob's, so hers is the later one (a bulk sender's
	// messages may be published up to the send linger after they are sent).
	poll(t, 30*time.Second, "alice to hold bob's reaction", func() (bool, string) {
		h, s := history(homeA)
		return len(h[id1].Reactions) == 1, s
	})
	mustRun(t, bin, homeA, "react", "Club", id1[:10], "🎉")
	mustRun(t, bin, homeB, "react", "Club", id1, "🎉")
	mustRun(t, bin, homeB, "react", "Club", id1, "🎉", "--remove")
	mustRun(t, bin, homeA, "edit", "Club", id1, "hello", "edited")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "send", "Club", "-")
	cmd.Stdin = strings.NewReader("from stdin, secret-words-4411\n")
	r := runCmd(t, cmd, homeA, "parley send Club -")
	if r.code != 0 || !msgIDLine.MatchString(r.stdout) {
		t.Fatalf("send -: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	id3 := strings.TrimSpace(r.stdout)
	poll(t, 30*time.Second, "bob to hold the stdin message", func() (bool, string) {
		h, s := history(homeB)
		return h[id3].Text == "from stdin, secret-words-4411", s
	})
	if r := run(t, bin, homeB, "edit", "Club", id1, "not mine"); r.code == 0 {
		t.Fatal("bob edited alice's message")
	}
	if r := run(t, bin, homeB, "delete", "Club", id3); r.code == 0 {
		t.Fatal("bob (a member) deleted alice's message")
	}
	if r := run(t, bin, homeB, "react", "Club", "00000000", "👍"); r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("react to an unknown id: exit %d, %s", r.code, r.stderr)
	}
	mustRun(t, bin, homeA, "delete", "Club", id3)

	poll(t, 30*time.Second, "bob to show every action", func() (bool, string) {
		h, s := history(homeB)
		m1, m2, m3 := h[id1], h[id2], h[id3]
		// bob's 🎉 was taken back; alice's stays.
		ok := m1.Text == "hello edited" && m1.Edited && len(m1.Reactions) == 2 &&
			m1.Reactions[0].Emoji+fmt.Sprint(m1.Reactions[0].Count) == "👍1" && m1.Reactions[1].Emoji+fmt.Sprint(m1.Reactions[1].Count) == "🎉1" &&
			m2.ReplyTo == id1 && m3.Deleted && m3.Text == ""
		_, hidden := h[""]
		return ok && !hidden && len(h) >= 3, s
	})
	human := mustRun(t, bin, homeB, "history", "Club")
	for _, want := range []string{"↳ alice: hello edited", "(edited)", "👍 1 🎉 1", "message deleted"} {
		if !strings.Contains(human, want) {
			t.Fatalf("human history lacks %q:\n%s", want, human)
		}
	}
	if strings.Contains(human, "secret-words-4411") {
		t.Fatalf("deleted text shown:\n%s", human)
	}

	// Without a running node: the action is stored locally.
	dA.stop(t)
	id4 := send(homeA, "offline", "note")
	mustRun(t, bin, homeA, "react", "Club", id4, "👀")
	h, s := history(homeA)
	if m := h[id4]; m.Text != "offline note" || len(m.Reactions) != 1 {
		t.Fatalf("offline send/react not in local history: %s", s)
	}
}
