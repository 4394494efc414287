package cli

import (
	"bytes"
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
	"github.com/parley-chat/parley/cmd/parley/internal/backend/backendtest"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/node"
)

// fakeNode serves a fake backend as the default profile's running node.
func fakeNode(t *testing.T) *backendtest.Fake {
	t.Helper()
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := profile.Open(profile.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.StoreDir(), 0o700); err != nil { // the profile exists
		t.Fatal(err)
	}
	f := backendtest.New()
	const token = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := api.NewServer(f, token, api.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln, s) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := p.WriteRuntime(profile.Runtime{Addr: ln.Addr().String(), PID: os.Getpid()}, token); err != nil {
		t.Fatal(err)
	}
	return f
}

type cliResult struct {
	out, err string
	code     int
}

func runCLI(args ...string) cliResult {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return cliResult{out.String(), errb.String(), code}
}

func lastCall(f *backendtest.Fake) string {
	c := f.Calls()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

func TestMembershipCommands(t *testing.T) {
	f := fakeNode(t)
	for _, c := range []struct {
		args []string
		call string
		out  string
	}{
		{[]string{"group", "remove", "Fam", "bob"}, "remove Fam bob", "removed bob from Fam\n"},
		{[]string{"group", "leave", "Fam"}, "leave Fam", "left Fam\n"},
		{[]string{"group", "promote", "Fam", "44444"}, "promote Fam 44444", "44444 is now an admin of Fam\n"},
		{[]string{"group", "demote", "Fam", "12D3KooWBob"}, "demote Fam 12D3KooWBob", "12D3KooWBob is now a member of Fam\n"},
		{[]string{"group", "revoke", "Fam", "inv1"}, "revoke Fam inv1", "revoked invite inv1\n"},
		{[]string{"group", "rename", "Fam", "Big", "Family"}, "rename Fam Big Family", "renamed Fam to Big Family\n"},
		{[]string{"name", "Alice", "B."}, "name Alice B.", "display name is now Alice B.\n"},
		{[]string{"group", "invite", "Fam"}, "invite Fam", "parley1fakecode\n"},
		{[]string{"group", "invite", "Fam", "--uses", "1"}, "createinvite Fam 0s 1", "parley1fakecode\n"},
		{[]string{"group", "invite", "Fam", "--expires", "24h", "--uses", "1"}, "createinvite Fam 24h0m0s 1", "parley1fakecode\n"},
		{[]string{"group", "invite", "--expires", "3d", "Fam"}, "createinvite Fam 72h0m0s 0", "parley1fakecode\n"},
	} {
		r := runCLI(c.args...)
		if r.code != 0 || r.out != c.out || lastCall(f) != c.call {
			t.Errorf("parley %q: exit %d, out %q, call %q; want out %q, call %q (stderr %q)", c.args, r.code, r.out, lastCall(f), c.out, c.call, r.err)
		}
	}
	if r := runCLI("group", "invite", "Fam", "--uses", "1"); !strings.Contains(r.err, "invite inv1: expires") || !strings.Contains(r.err, "uses 0/1") {
		t.Errorf("limited invite's stderr: %q", r.err)
	}
}

func TestMembershipCommandUsageErrors(t *testing.T) {
	f := fakeNode(t)
	for _, args := range [][]string{
		{"group", "remove", "Fam"},
		{"group", "remove", "Fam", "a", "b"},
		{"group", "leave"},
		{"group", "promote", "Fam"},
		{"group", "demote"},
		{"group", "revoke", "Fam"},
		{"group", "invites"},
		{"group", "rename", "Fam"},
		{"name"},
		{"name", "  "},
		{"group", "invite", "Fam", "--expires", "soon"},
		{"group", "invite", "Fam", "--expires", "-1h"},
		{"group", "invite", "Fam", "--uses", "-1"},
		{"group", "invite", "Fam", "--uses", "x"},
	} {
		r := runCLI(args...)
		if r.code == 0 || !strings.Contains(r.err, "Usage:") {
			t.Errorf("parley %q: exit %d, stderr %q", args, r.code, r.err)
		}
	}
	if c := f.Calls(); len(c) != 0 {
		t.Errorf("usage errors reached the node: %q", c)
	}
}

func TestMembershipNodeErrors(t *testing.T) {
	f := fakeNode(t)
	for _, c := range []struct {
		err  error
		args []string
		want []string
	}{
		{node.ErrAmbiguousMember, []string{"group", "remove", "Fam", "bob"}, []string{"ambiguous member", "safety number", "parley group members Fam"}},
		{node.ErrNoSuchMember, []string{"group", "promote", "Fam", "zed"}, []string{"no such member"}},
		{node.ErrNotAuthorized, []string{"group", "remove", "Fam", "bob"}, []string{"not authorized", "owner and admins"}},
		{node.ErrBadInvite, []string{"group", "revoke", "Fam", "nope"}, []string{"invalid invite"}},
		{node.ErrGroupNotFound, []string{"group", "invite", "Nope", "--uses", "1"}, []string{"group not found"}},
		{node.ErrLegacyGroup, []string{"group", "invites", "Old"}, []string{"created before membership", "before member roles"}},
		{fmt.Errorf("%w: bob\x1b[2J", node.ErrNoSuchMember), []string{"group", "remove", "Fam", "bob"}, []string{"no such member"}},
	} {
		f.Err = c.err
		r := runCLI(c.args...)
		if r.code != 1 || r.out != "" {
			t.Errorf("%v: exit %d, out %q", c.err, r.code, r.out)
		}
		for _, w := range c.want {
			if !strings.Contains(r.err, w) {
				t.Errorf("%v: stderr %q lacks %q", c.err, r.err, w)
			}
		}
		if rc := rawControl(r.err); rc != -1 {
			t.Errorf("%v: stderr has control %U: %q", c.err, rc, r.err)
		}
	}
}

func TestMembersOutput(t *testing.T) {
	f := fakeNode(t)
	f.Roster[1].Name = "bob" + hostile
	r := runCLI("group", "members", "Fam")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per member:\n%s", r.out)
	}
	for i, want := range [][]string{{"alice", "owner", "11111 22222 33333", backendtest.SelfID, "(you)"}, {"bob", "member", "44444 55555 66666", "12D3KooWBobBobBobBobBobBob"}} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	if rc := rawControl(r.out); rc != -1 {
		t.Errorf("members printed control %U: %q", rc, r.out)
	}

	r = runCLI("group", "members", "Fam", "--json")
	var ms []map[string]any
	if err := json.Unmarshal([]byte(r.out), &ms); err != nil || len(ms) != 2 {
		t.Fatalf("--json: %v\n%s", err, r.out)
	}
	for _, k := range []string{"name", "role", "safety_number", "peer_id", "id", "self", "joined"} {
		if _, ok := ms[0][k]; !ok {
			t.Errorf("--json member lacks %q: %v", k, ms[0])
		}
	}
	if ms[1]["role"] != "member" || ms[1]["safety_number"] != "44444 55555 66666" {
		t.Errorf("--json member: %v", ms[1])
	}
	if name, _ := ms[1]["name"].(string); rawControl(name) != -1 {
		t.Errorf("--json name keeps controls: %q", name)
	}

	// A group without roles: dashes.
	f.Roster = nil
	r = runCLI("group", "members", "Fam")
	if r.code != 0 || !strings.Contains(r.out, "alice  -  -  "+backendtest.SelfID) {
		t.Errorf("legacy members: %d %q %q", r.code, r.out, r.err)
	}
}

func TestInvitesOutput(t *testing.T) {
	f := fakeNode(t)
	if r := runCLI("group", "invites", "Fam"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "no invites") {
		t.Errorf("no invites: %d %q %q", r.code, r.out, r.err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.List = []node.InviteInfo{
		{ID: "inv1", Created: t0, Expires: t0.Add(24 * time.Hour), MaxUses: 1, Uses: 1},
		{ID: "inv2\x1b[5m", Created: t0, Expires: t0.Add(time.Hour), Revoked: true, Uses: 3},
	}
	r := runCLI("group", "invites", "Fam")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("invites: %d\n%s", r.code, r.out)
	}
	for i, want := range [][]string{{"inv1", "1/1", "no", t0.Local().Format("2006-01-02 15:04")}, {"inv2", "3/unlimited", "yes"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i, lines[i+1], w)
			}
		}
	}
	if rc := rawControl(r.out); rc != -1 {
		t.Errorf("invites printed control %U", rc)
	}
	r = runCLI("group", "invites", "Fam", "--json")
	var is []api.Invite
	if err := json.Unmarshal([]byte(r.out), &is); err != nil || len(is) != 2 || is[0].MaxUses != 1 || !is[1].Revoked {
		t.Fatalf("--json: %v\n%s", err, r.out)
	}
	for _, k := range []string{`"id"`, `"created"`, `"expires"`, `"uses"`, `"max_uses"`, `"revoked"`} {
		if !strings.Contains(r.out, k) {
			t.Errorf("--json lacks %s", k)
		}
	}
}

func TestMembershipNeedsRunningNode(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	if err := os.MkdirAll(home+"/default/store", 0o700); err != nil {
		t.Fatal(err)
	}
	r := runCLI("group", "remove", "Fam", "bob")
	if r.code != 1 || !strings.Contains(r.err, "no parley node is running") {
		t.Errorf("no node: %d %q", r.code, r.err)
	}
}
