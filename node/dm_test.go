package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/dmproto"
	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// addCode has n add the contact whose code is code's.
func addCode(t *testing.T, n, of *testNode, addrs bool) Contact {
	t.Helper()
	code, err := of.ContactCode(addrs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.AddContact(context.Background(), code, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dmOf is n's conversation with contact ref ("" if none).
func dmOf(n *testNode, ref string) string {
	c, err := n.Contact(ref)
	if err != nil {
		return ""
	}
	return c.DM
}

func dropsOf(n *testNode, reason error) uint64 { return n.drops.snapshot()[reason.Error()] }

// Two nodes exchange a contact code and write to each other; the
// conversation is a group of kind "dm" named after the contact on each side.
func TestDMBothWays(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	c := addCode(t, a, b, true)
	if c.Name != "bob" || c.PeerID != b.ID().String() || c.SafetyNumber != b.SafetyNumber() || c.DM != "" {
		t.Fatalf("contact %+v", c)
	}
	m, err := a.SendDM(ctx, "bob", "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob to get the conversation", func() bool { return dmOf(b, "alice") != "" })
	dm := dmOf(b, "alice")
	if dm != dmOf(a, "bob") {
		t.Fatalf("conversation ids differ: %s %s", dm, dmOf(a, "bob"))
	}
	waitFor(t, "bob to read alice", func() bool { return slices.Contains(texts(t, b, dm), "hello bob") })
	if _, err := b.SendDM(ctx, a.ID().String()[:10], "hello alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice to read bob", func() bool { return slices.Contains(texts(t, a, dm), "hello alice") })
	for _, tc := range []struct {
		n    *testNode
		name string
	}{{a, "bob"}, {b, "alice"}} {
		gi, err := tc.n.Group(dm)
		if err != nil || gi.Kind != "dm" || gi.Name != tc.name {
			t.Fatalf("%s: group info %+v %v", tc.n.displayName(), gi, err)
		}
		ms, err := tc.n.MemberList(dm)
		if err != nil || len(ms) != 2 {
			t.Fatalf("members %+v %v", ms, err)
		}
	}
	if m.Group != dm {
		t.Fatalf("message in %s, conversation %s", m.Group, dm)
	}
	// Exactly two members, for good: no invites, roles or removals.
	if _, err := a.Invite(dm); !errors.Is(err, ErrDMChange) {
		t.Fatalf("invite in a DM: %v", err)
	}
	if err := a.Promote(ctx, dm, "bob"); !errors.Is(err, ErrDMChange) {
		t.Fatalf("promote in a DM: %v", err)
	}
	if err := b.RemoveMember(ctx, dm, "alice"); !errors.Is(err, ErrDMChange) {
		t.Fatalf("remove in a DM: %v", err)
	}
	// An add op of a third member reaching bob's node is refused.
	carol := newTestNode(t, "carol", "")
	g, _ := a.group(dm)
	ckey, _ := memberKeyOfPeer(carol.ID())
	self, _ := a.id.memberIdentity()
	g.mem.mu.Lock()
	op, err := g.mem.log.AddMember(self, ckey, membership.HPKEPublic(carol.id.currentHPKE()), "carol", a.cfg.now())
	g.mem.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := b.group(dm)
	if err := b.applyOp(bg, a.pub, op.Encode()); !errors.Is(err, ErrBadField) {
		t.Fatalf("third member's add accepted: %v", err)
	}
	_ = m
}

// A third member of a group both share never gets the conversation's key:
// joined to its topic by hand, it sees envelopes it cannot open.
func TestDMThirdMemberCannotRead(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	c := newTestNode(t, "carol", "")
	connect(t, b, a)
	connect(t, c, a)
	connect(t, c, b)
	gi, err := a.CreateGroup(ctx, "Club", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	joinVia(t, a, c, gi.ID)
	waitFor(t, "bob to see carol", func() bool { return len(memberNames(t, b, gi.ID)) == 3 })
	// Bob adds alice from the group, by name.
	ct, err := b.AddContactFromMember(ctx, gi.ID, "alice", "")
	if err != nil || ct.PeerID != a.ID().String() {
		t.Fatalf("contact from member: %+v %v", ct, err)
	}
	if _, err := b.AddContactFromMember(ctx, gi.ID, "bob", ""); !errors.Is(err, ErrSelfContact) {
		t.Fatalf("self as contact: %v", err)
	}
	if _, err := b.SendDM(ctx, "alice", "first"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice to get the conversation", func() bool { return dmOf(a, "bob") != "" })
	dm := dmOf(a, "bob")
	waitFor(t, "alice to read bob", func() bool { return slices.Contains(texts(t, a, dm), "first") })
	g, err := a.group(dm)
	if err != nil {
		t.Fatal(err)
	}
	// Carol holds no such group...
	if _, err := c.group(dm); err == nil {
		t.Fatal("carol holds the conversation")
	}
	// ...and, told the topic, captures what flows on it.
	var mu sync.Mutex
	var captured [][]byte
	topic, err := c.Host().Join(g.keys.Topic, func(_ context.Context, from peer.ID, data []byte) (p2p.Verdict, any) {
		mu.Lock()
		captured = append(captured, slices.Clone(data))
		mu.Unlock()
		return p2p.Accept, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Close()
	// A topic is told and sent only to peers proven members of its group
	// (TestMemberIsToldOnlyItsGroupsTopics), so carol gets nothing on it:
	// admit her to it by hand, as a broken gate would, to see what she
	// could read.
	c.Host().AdmitPubSub(a.ID())
	a.Host().AdmitPubSubTopic(c.ID(), g.keys.Topic)
	waitFor(t, "carol in the topic's mesh", func() bool { return slices.Contains(g.topic.ListPeers(), c.ID()) })
	if _, err := a.SendDM(ctx, "bob", "secret plans"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "carol to capture an envelope", func() bool { mu.Lock(); defer mu.Unlock(); return len(captured) > 0 })
	mu.Lock()
	env, err := envelope.PeekEnvelope(captured[0])
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// Every epoch key carol holds (the club's) fails on it.
	cg, _ := c.group(gi.ID)
	cg.mem.mu.Lock()
	keys := make([]*envelope.EpochKey, 0, len(cg.mem.keys))
	for _, k := range cg.mem.keys {
		keys = append(keys, k)
	}
	cg.mem.mu.Unlock()
	if len(keys) == 0 {
		t.Fatal("carol holds no club key")
	}
	for _, k := range keys {
		if _, err := envelope.OpenEpochEnvelope(k, env); err == nil {
			t.Fatal("carol opened the DM with a club key")
		}
	}
	// Even with the conversation's whole log leaked, carol's keys open no
	// copy of its epoch secret: it was sealed to alice and bob only.
	g.mem.mu.Lock()
	st := g.mem.log.State()
	g.mem.mu.Unlock()
	cid, _ := c.id.memberIdentity()
	if _, err := st.OpenEpochSecret(st.Current().ID, cid.Key(), cid.HPKE); err == nil {
		t.Fatal("carol opened the conversation's epoch secret")
	}
	// And carol cannot pull it by sync: she is no member.
	if g.sync.Allow(c.ID()) {
		t.Fatal("sync would serve carol the conversation")
	}
}

// Blocking works from either side: offers and messages of the blocked
// contact are refused, and nothing is sent to it.
func TestDMBlock(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	addCode(t, a, b, true)
	addCode(t, b, a, true)
	// Bob blocks alice before any conversation: her offer is refused.
	if c, err := b.BlockContact(ctx, "alice", true); err != nil || !c.Blocked {
		t.Fatalf("block: %+v %v", c, err)
	}
	if _, err := b.SendDM(ctx, "alice", "x"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dm to a blocked contact: %v", err)
	}
	if _, err := a.SendDM(ctx, "bob", "let me in"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob to refuse the offer", func() bool { return dropsOf(b, ErrBlockedContact) > 0 })
	if dmOf(b, "alice") != "" {
		t.Fatal("bob accepted a blocked contact's conversation")
	}
	gs, _ := b.Groups()
	if len(gs) != 0 {
		t.Fatalf("bob holds %+v", gs)
	}
	// Unblocked, the held offer goes through (retried on the next kick).
	if _, err := b.BlockContact(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	a.dmKick()
	waitFor(t, "bob to get the conversation", func() bool { return dmOf(b, "alice") != "" })
	dm := dmOf(b, "alice")
	waitFor(t, "bob to read alice", func() bool { return slices.Contains(texts(t, b, dm), "let me in") })

	// Alice blocks bob: his messages are not stored, hers are refused.
	if _, err := a.BlockContact(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	before := dropsOf(a, ErrBlockedContact)
	if _, err := b.SendDM(ctx, "alice", "are you there"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice to drop bob's message", func() bool { return dropsOf(a, ErrBlockedContact) > before })
	if slices.Contains(texts(t, a, dm), "are you there") {
		t.Fatal("alice stored a blocked contact's message")
	}
	if _, err := a.Send(ctx, dm, "to a blocked contact"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("send to a blocked contact: %v", err)
	}
	if c, _ := a.Contact("bob"); !c.Blocked {
		t.Fatal("block not kept")
	}
	// The other way: alice unblocks, bob blocks.
	if _, err := a.BlockContact(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.BlockContact(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	before = dropsOf(b, ErrBlockedContact)
	if _, err := a.SendDM(ctx, "bob", "hello?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob to drop alice's message", func() bool { return dropsOf(b, ErrBlockedContact) > before })
	if slices.Contains(texts(t, b, dm), "hello?") {
		t.Fatal("bob stored a blocked contact's message")
	}
}

// An offer to a contact that is offline is kept (across a restart of the
// offerer) and delivered once the contact is online and connects.
func TestDMOfflineContact(t *testing.T) {
	ctx := context.Background()
	adir, bdir := t.TempDir(), t.TempDir()
	akey, _, _ := crypto.GenerateEd25519Key(nil)
	bkey, _, _ := crypto.GenerateEd25519Key(nil)
	b := startTestNode(t, "bob", bdir, bkey)
	code, err := b.ContactCode(false)
	if err != nil {
		t.Fatal(err)
	}
	b.stop()
	a := startTestNode(t, "alice", adir, akey)
	if _, err := a.AddContact(ctx, code, "bobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendDM(ctx, "bobby", "while you were out"); err != nil {
		t.Fatal(err)
	}
	dm := dmOf(a, "bobby")
	waitFor(t, "a failed delivery", func() bool {
		p, err := a.st.GetPair(mustGroupID(t, dm))
		return err == nil && p.Pending && p.Tries > 0
	})
	a.stop()
	a = startTestNode(t, "alice", adir, akey)
	if p, err := a.st.GetPair(mustGroupID(t, dm)); err != nil || !p.Pending {
		t.Fatalf("offer not kept across restart: %+v %v", p, err)
	}
	b = startTestNode(t, "bob", bdir, bkey)
	connect(t, b, a)
	waitFor(t, "bob to get the conversation", func() bool { return dmOf(b, "alice") == dm })
	waitFor(t, "bob to read alice", func() bool { return slices.Contains(texts(t, b, dm), "while you were out") })
	waitFor(t, "the offer to be done", func() bool {
		p, err := a.st.GetPair(mustGroupID(t, dm))
		return err == nil && !p.Pending
	})
}

func mustGroupID(t *testing.T, s string) store.GroupID {
	t.Helper()
	var id store.GroupID
	if len(s) != 2*len(id) {
		t.Fatalf("group id %q", s)
	}
	for i := range id {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		id[i] = v
	}
	return id
}

// sendOffer opens the DM stream from n to p and returns the reply.
func sendOffer(t *testing.T, n *testNode, p peer.ID, o *dmproto.Offer) *dmproto.Reply {
	t.Helper()
	s, err := n.Host().NewStream(context.Background(), p, DMProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := dmproto.Write(s, o); err != nil {
		t.Fatal(err)
	}
	rep, err := dmproto.ReadReply(s)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// forgedLog is a conversation log by author adding subjects (with their
// HPKE keys).
func forgedLog(t *testing.T, author *testNode, name string, subjects ...*testNode) [][]byte {
	t.Helper()
	self, _ := author.id.memberIdentity()
	l, _, err := membership.Create(self, "x", name, author.cfg.now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		k, _ := memberKeyOfPeer(s.ID())
		if _, err := l.AddMember(self, k, membership.HPKEPublic(s.id.currentHPKE()), "y", author.cfg.now()); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	for _, o := range l.Ops() {
		out = append(out, o.Encode())
	}
	return out
}

// Forged offers are refused and counted: someone else's log, the wrong
// members, a third member added, a group that is no conversation.
func TestDMForgedOffers(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	c := newTestNode(t, "carol", "")
	connect(t, a, b)
	connect(t, c, b)
	addCode(t, a, b, true)
	if _, err := a.OpenDM(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the genuine conversation", func() bool { return dmOf(b, "alice") != "" })
	g, _ := a.group(dmOf(a, "bob"))
	genuine, err := a.offer(g)
	if err != nil {
		t.Fatal(err)
	}
	offer := func(ops [][]byte) *dmproto.Offer {
		return &dmproto.Offer{Version: dmproto.Version, GroupSecret: envelope.NewSecret(), Ops: ops}
	}
	cases := map[string]*dmproto.Offer{
		"someone else's log":  {Version: dmproto.Version, GroupSecret: genuine.GroupSecret, Ops: genuine.Ops},
		"wrong members":       offer(forgedLog(t, c, dmGroupName, a)),
		"a third member":      offer(forgedLog(t, c, dmGroupName, b, a)),
		"not a conversation":  offer(forgedLog(t, c, "Club", b)),
		"nobody added":        offer(append(forgedLog(t, c, dmGroupName), forgedLog(t, c, dmGroupName)[0])),
		"secret not 32 bytes": {Version: dmproto.Version, GroupSecret: []byte{1}, Ops: forgedLog(t, c, dmGroupName, b)},
	}
	before := dropsOf(b, ErrBadOffer)
	for name, o := range cases {
		if name == "secret not 32 bytes" {
			// Malformed: the stream is reset, nothing to read back.
			s, err := c.Host().NewStream(ctx, b.ID(), DMProtocol)
			if err != nil {
				t.Fatal(err)
			}
			dmproto.Write(s, o)
			if _, err := dmproto.ReadReply(s); err == nil {
				t.Errorf("%s: answered", name)
			}
			s.Close()
			continue
		}
		rep := sendOffer(t, c, b.ID(), o)
		if rep.Ok || rep.Code != dmproto.CodeBadOffer {
			t.Errorf("%s: reply %+v", name, rep)
		}
	}
	waitFor(t, "every forged offer counted", func() bool { return dropsOf(b, ErrBadOffer) >= before+uint64(len(cases)) })
	if cs, _ := b.Contacts(); len(cs) != 1 {
		t.Fatalf("bob's contacts %+v", cs)
	}
	if gs, _ := b.Groups(); len(gs) != 1 {
		t.Fatalf("bob's groups %+v", gs)
	}
	// The genuine offer sent again is harmless.
	if rep := sendOffer(t, a, b.ID(), genuine); !rep.Ok {
		t.Fatalf("repeated offer: %+v", rep)
	}
}
