package reach

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestRetryDelay(t *testing.T) {
	var got []time.Duration
	for f := 1; f <= 10; f++ {
		got = append(got, retryDelay(time.Minute, f, false))
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 300, 300, 300, 300}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Fatalf("no DHT peers: %v, want %v", got, want)
	}
	if d := retryDelay(time.Minute, 10, true); d != time.Minute {
		t.Fatalf("with DHT peers: %v, want the interval", d)
	}
	if d := retryDelay(200*time.Millisecond, 1, false); d != 200*time.Millisecond {
		t.Fatalf("short interval: first retry %v", d)
	}
	if d := retryDelay(time.Minute, 1000, false); d != maxRendezvousRetry {
		t.Fatalf("many failures: %v", d)
	}
}

// At most maxBootstrapPeers, with addresses, most recently seen first,
// circuit addresses last.
func TestBootstrapRanking(t *testing.T) {
	b := newBootBook(New(Config{}))
	t0 := time.Unix(1_700_000_000, 0)
	var ids []peer.ID
	direct := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	circuit := ma.StringCast("/ip4/192.0.2.2/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit")
	for i := range 20 {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(k)
		ids = append(ids, id)
		b.learn(t0.Add(time.Duration(i)*time.Second), peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{circuit, direct}})
	}
	b.learn(t0.Add(time.Hour), peer.AddrInfo{ID: "no-addrs"})
	got := b.rankedLocked()
	if len(got) != maxBootstrapPeers {
		t.Fatalf("%d ranked, want %d", len(got), maxBootstrapPeers)
	}
	for i, c := range got {
		if want := ids[19-i]; c.ai.ID != want {
			t.Fatalf("rank %d: %s, want %s (newest first)", i, c.ai.ID, want)
		}
		if !c.ai.Addrs[0].Equal(direct) || !c.ai.Addrs[1].Equal(circuit) {
			t.Fatalf("addresses %v: circuit not last", c.ai.Addrs)
		}
	}
	b.trimLocked()
	if len(b.peers) != maxBootstrapPeers {
		t.Fatalf("trim kept %d", len(b.peers))
	}
}

func TestRelayPeersFromCircuitAddrs(t *testing.T) {
	relayID := "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	a := ma.StringCast("/ip4/203.0.113.7/tcp/4001/p2p/" + relayID + "/p2p-circuit")
	direct := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	got := RelayPeers([]ma.Multiaddr{direct, a})
	if len(got) != 1 || got[0].ID.String() != relayID || got[0].Addrs[0].String() != "/ip4/203.0.113.7/tcp/4001" {
		t.Fatalf("relayPeers = %v", got)
	}
	if !IsCircuit(a) || IsCircuit(direct) {
		t.Fatal("isCircuit")
	}
}
