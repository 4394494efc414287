package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// Mute and read receipts are local state: they work with no node running,
// and `parley groups` shows them.
func TestMuteAndReadReceiptsWithoutNode(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := profile.Open(profile.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.EnsureIdentity(st, "me"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutGroup(store.Group{ID: store.GroupID{1, 2, 3}, Name: "Family", Secret: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if r := runCLI("group", "mute", "Family"); r.code != 0 || !strings.Contains(r.out, "muted Family") {
		t.Fatalf("mute: %+v", r)
	}
	r := runCLI("groups")
	if r.code != 0 || !strings.Contains(r.out, "UNREAD") || !strings.Contains(r.out, "muted") {
		t.Fatalf("groups: %+v", r)
	}
	r = runCLI("groups", "--json")
	var gs []node.GroupInfo
	if err := json.Unmarshal([]byte(r.out), &gs); err != nil || len(gs) != 1 || !gs[0].Muted || gs[0].Unread != 0 {
		t.Fatalf("groups --json: %v %+v", err, r)
	}
	if !strings.Contains(r.out, `"unread": 0`) || !strings.Contains(r.out, `"mentions": 0`) {
		t.Fatalf("groups --json lacks unread/mentions: %s", r.out)
	}
	if r := runCLI("group", "unmute", "Family"); r.code != 0 || !strings.Contains(r.out, "unmuted Family") {
		t.Fatalf("unmute: %+v", r)
	}
	if r := runCLI("config", "read-receipts"); r.code != 0 || strings.TrimSpace(r.out) != "read-receipts off" {
		t.Fatalf("default: %+v", r)
	}
	if r := runCLI("config", "read-receipts", "on"); r.code != 0 {
		t.Fatalf("on: %+v", r)
	}
	r = runCLI("config", "read-receipts", "--json")
	var rr api.ReadReceiptsSetting
	if err := json.Unmarshal([]byte(r.out), &rr); err != nil || !rr.On {
		t.Fatalf("--json: %v %+v", err, r)
	}
	if r := runCLI("config", "read-receipts", "maybe"); r.code == 0 {
		t.Fatalf("maybe accepted: %+v", r)
	}
}

// The control API keeps its port and token across starts; a kept port that
// is taken falls back to a free one with a warning, keeping port and token.
func TestListenAPIKeepsAddressAndLogin(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	p, err := profile.Open(profile.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	a := &app{stdout: &strings.Builder{}, stderr: &errb}
	log := slog.New(slog.DiscardHandler)
	ln, tok, err := a.listenAPI(p, log)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ln2, tok2, err := a.listenAPI(p, log)
	if err != nil {
		t.Fatal(err)
	}
	if ln2.Addr().String() != addr || tok2 != tok || len(tok) != 64 {
		t.Fatalf("second start: %s %q, first %s %q", ln2.Addr(), tok2, addr, tok)
	}
	// ln2 holds the port: a third start must fall back, and say so.
	ln3, tok3, err := a.listenAPI(p, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ln3.Close()
	ln2.Close()
	if ln3.Addr().String() == addr || tok3 != tok || !strings.Contains(errb.String(), "is taken") {
		t.Fatalf("taken port: %s %q, stderr %q", ln3.Addr(), tok3, errb.String())
	}
	if ws, err := p.ReadWeb(); err != nil || ws.Token != tok || fmt.Sprintf("127.0.0.1:%d", ws.Port) != addr {
		t.Fatalf("kept state changed by the fallback: %+v %v", ws, err)
	}
	if fi, err := os.Stat(p.WebFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("web.json mode: %v %v", fi.Mode(), err)
	}
}
