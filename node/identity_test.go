package node

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

func TestEnsureIdentity(t *testing.T) {
	t.Setenv("USER", "zed")
	dir := t.TempDir()
	st, err := store.Open(dir, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	id1, err := EnsureIdentity(st, "")
	if err != nil {
		t.Fatal(err)
	}
	if id1.Name != "zed" || id1.Port < MinPort || id1.Port > MaxPort || id1.ID == "" {
		t.Fatalf("identity %+v", id1)
	}
	if raw, err := st.Setting(SettingPort); err != nil || string(raw) != strconv.Itoa(id1.Port) {
		t.Fatalf("port setting %q %v", raw, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = store.Open(dir, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id2, err := EnsureIdentity(st, "Zed Z")
	if err != nil {
		t.Fatal(err)
	}
	if id2.ID != id1.ID || id2.Port != id1.Port || id2.Name != "Zed Z" {
		t.Fatalf("reopened identity %+v, was %+v", id2, id1)
	}
	if id3, _ := EnsureIdentity(st, ""); id3.Name != "Zed Z" {
		t.Fatalf("name not kept: %q", id3.Name)
	}
}

// New opens the profile's store and identity and starts nothing; Start
// runs the node; Close closes the store too, so the profile reopens with
// the same identity.
func TestNewStartCloseProfile(t *testing.T) {
	dir := t.TempDir()
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	loopback := WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false))
	n, err := New(dir, quiet, loopback, WithDisplayName("first"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Host() != nil {
		t.Fatal("New built a host: nothing may start before Start")
	}
	if _, err := n.CreateGroup(context.Background(), "early", false); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("CreateGroup before Start: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Host() == nil || n.Host().ID() != n.ID() {
		t.Fatal("Start did not build the host with the profile's identity")
	}
	gi, err := n.CreateGroup(context.Background(), "Room", false)
	if err != nil {
		t.Fatal(err)
	}
	id := n.ID()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}

	// Reopen: same identity and name, the group is there (read without Start).
	n, err = New(dir, quiet, loopback)
	if err != nil {
		t.Fatalf("reopen (store not closed?): %v", err)
	}
	defer n.Close()
	if n.ID() != id || n.Identity().Name != "first" {
		t.Fatalf("reopened as %s %q, was %s", n.ID(), n.Identity().Name, id)
	}
	if g, err := n.Group(gi.ID); err != nil || g.Name != "Room" {
		t.Fatalf("group after reopen: %+v %v", g, err)
	}
	other, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := New(dir, quiet, WithKey(other)); !errors.Is(err, ErrIdentityMismatch) {
		t.Fatalf("New with another key: %v", err)
	}
}
