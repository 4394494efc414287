package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// epochOf is g's current key epoch id.
func epochOf(g *group) []byte {
	g.mem.mu.Lock()
	defer g.mem.mu.Unlock()
	id := g.mem.log.State().Current().ID
	return id[:]
}

// withEpoch stamps m with g's current epoch, as a member's sender does.
func withEpoch(g *group, m *wirepb.Message) *wirepb.Message {
	m.Epoch = epochOf(g)
	return m
}

// vtSealEpoch seals SignedMessages under g's current epoch key (what a
// member publishes).
func vtSealEpoch(t testing.TB, g *group, raws ...[]byte) []byte {
	t.Helper()
	k := g.mem.key(epochOf(g))
	if k == nil {
		t.Fatal("no key for the current epoch")
	}
	env, err := envelope.SealEpochEnvelope(k, raws...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// legacyGroup opens a group as a store from before membership holds it: a
// group secret and no membership log (validator tests of the envelope and
// signature checks, which legacy groups keep).
func legacyGroup(t testing.TB, n *testNode, name string) *group {
	t.Helper()
	secret := envelope.NewSecret()
	keys, _ := envelope.DeriveKeys(secret)
	rec := store.Group{ID: keys.ID, Name: name, Secret: secret, CreatedMs: 1, JoinedMs: 1}
	if err := n.st.PutGroup(rec); err != nil {
		t.Fatal(err)
	}
	g, err := n.openGroup(rec)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// vtAdmit adds key's holder to n's log of g as a member (an add op kept
// locally, not published): a member whose messages n must accept.
func vtAdmit(t testing.TB, n *testNode, g *group, key crypto.PrivKey, name string) {
	t.Helper()
	self, err := n.id.memberIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	k, err := memberKeyOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	h, err := membership.NewHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	g.mem.mu.Lock()
	_, err = g.mem.log.AddMember(self, k, membership.HPKEPublic(h), name, n.cfg.now())
	g.mem.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

// vtOpenEpoch opens a membership group's envelope with the key of its epoch.
func vtOpenEpoch(g *group, data []byte) ([][]byte, error) {
	env, err := envelope.PeekEnvelope(data)
	if err != nil {
		return nil, err
	}
	k := g.mem.key(env.Epoch)
	if k == nil {
		return nil, ErrUnknownEpoch
	}
	return envelope.OpenEpochEnvelope(k, env)
}
