package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
)

// realNode starts a node on the default profile of a fresh PARLEY_HOME
// (loopback, no mDNS). serve also publishes its API as the running node.
func realNode(t *testing.T, serve bool) (*node.Node, *profile.Profile) {
	t.Helper()
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := profile.Open(profile.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(p.Dir, node.WithDisplayName("ana"), node.WithLogger(slog.New(slog.DiscardHandler)),
		node.WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		n.Close()
		t.Fatal(err)
	}
	if !serve {
		return n, p
	}
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := api.NewServer(n, token, api.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln, s) }()
	t.Cleanup(func() { cancel(); <-done; n.Close() })
	if err := p.WriteRuntime(profile.Runtime{Addr: ln.Addr().String(), PID: os.Getpid()}, token); err != nil {
		t.Fatal(err)
	}
	return n, p
}

func sendTexts(t *testing.T, n *node.Node, g string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if _, err := n.Send(context.Background(), g, s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHistoryAllAndSearchOffline: with no node running, `history --all`
// pages through everything (text and --json) and `search` reads the store.
func TestHistoryAllAndSearchOffline(t *testing.T) {
	old := historyPage
	historyPage = 7
	t.Cleanup(func() { historyPage = old })
	n, _ := realNode(t, false)
	gi, err := n.CreateGroup(context.Background(), "Club", false)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 {
		want = append(want, fmt.Sprintf("note %d about Tea", i))
	}
	sendTexts(t, n, gi.ID, want...)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	r := runCLI("history", "Club", "--all", "--json")
	var ms []node.Message
	if r.code != 0 || json.Unmarshal([]byte(r.out), &ms) != nil {
		t.Fatalf("history --all --json: %d %q %q", r.code, r.out, r.err)
	}
	if len(ms) != 31 || ms[0].Kind != "join" || ms[30].Text != want[29] || ms[1].Text != want[0] {
		t.Fatalf("history --all: %d messages", len(ms))
	}
	r = runCLI("history", "Club", "--all")
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); r.code != 0 || len(lines) != 31 || strings.Contains(r.err, "--before") {
		t.Fatalf("history --all text: %d lines, stderr %q", len(lines), r.err)
	}
	r = runCLI("history", "Club", "--around", ms[10].ID, "--limit", "2", "--json")
	var around []node.Message
	if r.code != 0 || json.Unmarshal([]byte(r.out), &around) != nil || len(around) != 5 || around[2].ID != ms[10].ID {
		t.Fatalf("history --around: %d %q %q", r.code, r.out, r.err)
	}

	r = runCLI("search", "tea", "NOTE", "17", "--json")
	var res []node.SearchResult
	if r.code != 0 || json.Unmarshal([]byte(r.out), &res) != nil {
		t.Fatalf("search --json: %d %q %q", r.code, r.out, r.err)
	}
	if len(res) != 1 || res[0].Message.Text != "note 17 about Tea" || res[0].GroupName != "Club" {
		t.Fatalf("search results %+v", res)
	}
	r = runCLI("search", "tea", "--group", "Club")
	if r.code != 0 || strings.Count(r.out, "\n") != 20 || !strings.Contains(r.out, "(Club) ana: note 29 about Tea") {
		t.Fatalf("search text: %d %q %q", r.code, r.out, r.err)
	}
	if r := runCLI("search", "absent"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "no messages found") {
		t.Fatalf("search with no match: %+v", r)
	}
	if r := runCLI("search", "x"); r.code == 0 || !strings.Contains(r.err, "no word") {
		t.Fatalf("search with no searchable word: %+v", r)
	}
}

// TestSearchTailAndCreateThroughAPI: the same commands against a running
// node; a taken group name gets a distinct one with a warning; tail
// --since prints the backlog once.
func TestSearchTailAndCreateThroughAPI(t *testing.T) {
	n, _ := realNode(t, true)
	r := runCLI("group", "create", "Club")
	if r.code != 0 || r.err != "" {
		t.Fatalf("create: %+v", r)
	}
	r = runCLI("group", "create", "Club")
	if r.code != 0 || !strings.Contains(r.err, "name 'Club' is taken; created as 'Club (2)'") {
		t.Fatalf("create taken: %+v", r)
	}
	second := strings.TrimSpace(r.out)
	gi, err := n.Group(second)
	if err != nil || gi.Name != "Club (2)" {
		t.Fatalf("second group %+v %v", gi, err)
	}
	sendTexts(t, n, second, "hello Wörld", "other text")
	r = runCLI("search", "WÖRLD", "hello", "--group", "Club (2)", "--json")
	var res []node.SearchResult
	if r.code != 0 || json.Unmarshal([]byte(r.out), &res) != nil || len(res) != 1 || res[0].GroupID != second {
		t.Fatalf("search via API: %+v", r)
	}

	var out strings.Builder
	a := &app{stdout: &out, stderr: &out, profileName: profile.DefaultName}
	c, err := a.client()
	if err != nil {
		t.Fatal(err)
	}
	backlog, seen, err := a.tailSince(context.Background(), c, second, "1h")
	if err != nil {
		t.Fatal(err)
	}
	backlog()
	if got := out.String(); !strings.Contains(got, "ana: hello Wörld") || !strings.Contains(got, "ana: other text") {
		t.Fatalf("backlog %q", got)
	}
	if !seen(res[0].Message.ID) {
		t.Fatal("backlog message not marked seen")
	}
	if _, _, err := a.tailSince(context.Background(), c, second, "yesterday-ish"); err == nil {
		t.Fatal("bad --since accepted")
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 30, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"2h":                   now.Add(-2 * time.Hour),
		"3d":                   now.AddDate(0, 0, -3),
		"2026-12-01 09:15":     time.Date(2026, 12, 1, 9, 15, 0, 0, time.Local),
		"2026-11-30":           time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local),
		"13:00":                time.Date(2026, 12, 2, 13, 0, 0, 0, time.Local),
		"15:00":                time.Date(2026, 12, 1, 15, 0, 0, 0, time.Local),
		"2026-12-02T10:00:00Z": time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-5m", "soon", "3x"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
