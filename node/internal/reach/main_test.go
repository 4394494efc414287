package reach

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

func newHost(t *testing.T) *p2p.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.New(context.Background(), p2p.WithIdentity(key), p2p.WithLogger(quiet),
		p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Reach alone, no node: it redials a peer the store remembers, and keeps
// the relays an invite names as bootstrap peers in the store.
func TestRedialAndBootstrapWithoutNode(t *testing.T) {
	a, b := newHost(t), newHost(t)
	st, err := store.Open("", store.InMemory(), store.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := store.Peer{ID: []byte(b.ID()), LastSeenMs: time.Now().UnixMilli()}
	for _, ad := range b.ListenAddrs() {
		rec.Addrs = append(rec.Addrs, ad.Bytes())
	}
	if err := st.PutPeer(rec); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Self: a.ID(), Host: a, Store: st, Log: quiet, RedialEvery: time.Hour})
	r.Start()
	defer r.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !a.IsConnected(b.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("remembered peer not redialled")
		}
		time.Sleep(10 * time.Millisecond)
	}

	relayID := "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	relay := RelayPeers([]ma.Multiaddr{ma.StringCast("/ip4/192.0.2.9/tcp/4001/p2p/" + relayID + "/p2p-circuit")})
	r.LearnInvite(relay)
	if !r.BootstrapKnows(relay[0].ID) {
		t.Fatal("invite relay not a bootstrap candidate")
	}
	saved, err := st.BootstrapPeers()
	if err != nil || len(saved) != 1 || peer.ID(saved[0].ID) != relay[0].ID {
		t.Fatalf("saved bootstrap peers %v %v", saved, err)
	}
}
