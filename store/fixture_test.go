package store

import (
	"context"
	"os"
	"testing"
)

// The fixtures in testdata/ were written by older code with this same file
// (it uses only the API those versions had):
//
//	testdata/v1       at commit 1991f46 (schema 1, no version key)
//	testdata/v1-rkeys at commit f1da6fd (schema 1, still writing r/ keys)
//
// To make one again: check out that commit in a scratch worktree, copy this
// file into its store/, and run
//
//	PARLEY_GEN_FIXTURE=/tmp/fx go test -count=1 -run TestGenerateFixture ./store
//
// then copy /tmp/fx into testdata.

var (
	fixtureAlpha = gidOf("fixture-alpha")
	fixtureBeta  = gidOf("fixture-beta")
	fixtureGap   = idOf(999) // named as a parent, never stored
)

// fixtureMessages is the messages a fixture holds, in append order.
func fixtureMessages() (alpha, beta []Message) {
	seq := map[string]uint64{}
	for n := uint64(1); n <= 30; n++ {
		author := "alice"
		if n%2 == 0 {
			author = "bob"
		}
		seq[author]++
		var parents []MessageID
		if n > 1 {
			parents = append(parents, idOf(n-1))
		}
		if n == 30 {
			parents = append(parents, fixtureGap)
		}
		alpha = append(alpha, mkMsg(fixtureAlpha, n, author, seq[author], n, parents...))
	}
	for n := uint64(101); n <= 110; n++ {
		var parents []MessageID
		if n > 101 {
			parents = append(parents, idOf(n-1))
		}
		beta = append(beta, mkMsg(fixtureBeta, n, "carol", n-100, n-100, parents...))
	}
	return alpha, beta
}

func fixtureGroups() []Group {
	return []Group{
		{ID: fixtureAlpha, Name: "alpha", Secret: []byte("fixture-secret-alpha-0123456789ab"), CreatedMs: 1_700_000_000_000, JoinedMs: 1_700_000_000_001},
		{ID: fixtureBeta, Name: "beta", Secret: []byte("fixture-secret-beta-0123456789abc"), CreatedMs: 1_700_000_000_002, JoinedMs: 1_700_000_000_003, HistoryFromJoin: true},
	}
}

var fixtureSettings = map[string]string{
	"identity":     "fixture-identity-key-material",
	"display_name": "Fixture",
}

var (
	fixturePeer   = Peer{ID: []byte("peer-one"), Addrs: [][]byte{[]byte("/ip4/127.0.0.1/tcp/4001")}, LastSeenMs: 1_700_000_000_100}
	fixtureMember = Member{Author: []byte("alice"), DisplayName: "Alice", FirstSeenMs: 1_700_000_000_200}
)

// writeFixture fills s with the fixture data.
func writeFixture(t testing.TB, s *Store) { writeFixtureWith(t, s, nil) }

// writeFixtureWith is writeFixture with each message passed through edit
// (when not nil) before it is stored.
func writeFixtureWith(t testing.TB, s *Store, edit func(*Message)) {
	t.Helper()
	for _, g := range fixtureGroups() {
		if err := s.PutGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range fixtureSettings {
		if err := s.PutSetting(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutPeer(fixturePeer); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBootstrapPeers([]Peer{fixturePeer}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMember(fixtureAlpha, fixtureMember); err != nil {
		t.Fatal(err)
	}
	alpha, beta := fixtureMessages()
	for _, m := range append(alpha, beta...) {
		if edit != nil {
			edit(&m)
		}
		if _, err := s.Append(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGenerateFixture writes a fixture store when PARLEY_GEN_FIXTURE names a
// directory (see above); otherwise it does nothing.
func TestGenerateFixture(t *testing.T) {
	dir := os.Getenv("PARLEY_GEN_FIXTURE")
	if dir == "" {
		t.Skip("PARLEY_GEN_FIXTURE not set")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
