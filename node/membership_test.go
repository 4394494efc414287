package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
)

// joinVia has inviter create an invite for group and n join with it.
func joinVia(t *testing.T, inviter, n *testNode, group string) {
	t.Helper()
	code, err := inviter.Invite(group)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Join(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	// What either publishes next must reach the other by gossip: most of
	// these tests run without periodic sync.
	waitTopicPeers(t, group, inviter, n)
}

// memberNames is n's MemberList of group as "name:role" strings.
func memberNames(t *testing.T, n *testNode, group string) []string {
	t.Helper()
	ms, err := n.MemberList(group)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name+":"+m.Role)
	}
	return out
}

func currentEpoch(n *testNode, group string) string {
	g, err := n.group(group)
	if err != nil {
		return ""
	}
	return string(epochOf(g))
}

// A member who never posts is in everyone's member list: joining is an op.
func TestSilentMemberListed(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "", WithSyncInterval(0))
	b := newTestNode(t, "bob", "", WithSyncInterval(0))
	c := newTestNode(t, "carol", "", WithSyncInterval(0))
	gi, err := a.CreateGroup(ctx, "Quiet", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	joinVia(t, a, c, gi.ID)
	want := []string{"alice:owner", "bob:member", "carol:member"}
	for _, n := range []*testNode{a, b, c} {
		waitFor(t, n.cfg.displayName+" lists every member", func() bool {
			return slices.Equal(memberNames(t, n, gi.ID), want)
		})
	}
	ms, _ := a.Members(gi.ID)
	if len(ms) != 3 {
		t.Fatalf("Members: %+v", ms)
	}
	// Safety numbers agree across nodes and match the member's own.
	for _, m := range mustList(t, b, gi.ID) {
		if m.Name == "carol" && m.SafetyNumber != c.SafetyNumber() {
			t.Fatalf("b shows carol's safety number %q, carol says %q", m.SafetyNumber, c.SafetyNumber())
		}
	}
	// A display name change reaches every member.
	if err := c.SetDisplayName(ctx, "caroline"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a sees the new name", func() bool {
		return slices.Contains(memberNames(t, a, gi.ID), "caroline:member")
	})
	// Roles: promote, demote; a member may not rename, an admin may.
	if err := b.RenameGroup(ctx, gi.ID, "Loud"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("member renames: %v, want ErrNotAuthorized", err)
	}
	makeAdmin(t, a, b, gi.ID)
	if err := b.RenameGroup(ctx, gi.ID, "Loud"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everyone sees the new group name", func() bool {
		for _, n := range []*testNode{a, b, c} {
			if g, err := n.Group(gi.ID); err != nil || g.Name != "Loud" {
				return false
			}
		}
		return true
	})
	if err := a.Demote(ctx, gi.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveMember(ctx, gi.ID, "nobody"); !errors.Is(err, ErrNoSuchMember) {
		t.Fatalf("remove nobody: %v", err)
	}
	// C leaves: the rotator (the owner) starts a new epoch without it, and
	// C can no longer send.
	waitFor(t, "c sees every op", func() bool { return slices.Equal(memberNames(t, c, gi.ID), memberNames(t, a, gi.ID)) })
	before := currentEpoch(a, gi.ID)
	if err := c.Leave(ctx, gi.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a rotates after the leave", func() bool {
		return currentEpoch(a, gi.ID) != before && len(mustList(t, a, gi.ID)) == 2
	})
	waitFor(t, "b follows", func() bool { return currentEpoch(b, gi.ID) == currentEpoch(a, gi.ID) })
	if _, err := c.Send(ctx, gi.ID, "still here?"); !errors.Is(err, ErrNotGroupMember) {
		t.Fatalf("send after leaving: %v", err)
	}
	if _, err := b.Send(ctx, gi.ID, "after the leave"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reads b", func() bool { return slices.Contains(texts(t, a, gi.ID), "after the leave") })
}

func mustList(t *testing.T, n *testNode, group string) []MemberInfo {
	t.Helper()
	ms, err := n.MemberList(group)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A removes C from A, B, C, D (D offline during the removal).
func TestRemovedMemberReadsAndSendsNothingNew(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "")
	b := newTestNode(t, "bob", "")
	c := newTestNode(t, "carol", "")
	dKey, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	dDir := t.TempDir()
	d := startTestNode(t, "dave", dDir, dKey)
	gi, err := a.CreateGroup(ctx, "Club", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{b, c, d} {
		joinVia(t, a, n, gi.ID)
	}
	connect(t, b, c)
	for _, n := range []*testNode{a, b, c, d} {
		waitFor(t, n.cfg.displayName+" sees four members", func() bool { return len(mustList(t, n, gi.ID)) == 4 })
	}
	if _, err := c.Send(ctx, gi.ID, "before removal"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a and b read c", func() bool {
		return slices.Contains(texts(t, a, gi.ID), "before removal") && slices.Contains(texts(t, b, gi.ID), "before removal")
	})
	gc, _ := c.group(gi.ID)
	oldEpoch := epochOf(gc)
	oldKey := gc.mem.key(oldEpoch)
	d.stop()

	if err := a.RemoveMember(ctx, gi.ID, "carol"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b on the new epoch", func() bool { return currentEpoch(b, gi.ID) == currentEpoch(a, gi.ID) })
	// The group counts current members, not everyone who ever posted, and
	// the history says who removed whom.
	waitFor(t, "b's group info to count 3 members", func() bool {
		info, err := b.Group(gi.ID)
		return err == nil && info.Members == 3
	})
	waitFor(t, "b's history shows the removal", func() bool {
		hist, err := b.History(gi.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range hist {
			if m.Kind == "membership" && m.Text == "removed carol" && m.AuthorName == "alice" {
				return true
			}
		}
		return false
	})
	if currentEpoch(a, gi.ID) == string(oldEpoch) {
		t.Fatal("removal did not start an epoch")
	}
	waitFor(t, "c learns of its removal", func() bool { return currentEpoch(c, gi.ID) == currentEpoch(a, gi.ID) })
	gb, _ := b.group(gi.ID)
	waitFor(t, "b holds the new epoch's key", func() bool { return gb.mem.key(epochOf(gb)) != nil })
	if gc.mem.key(epochOf(gc)) != nil {
		t.Fatal("removed member holds the new epoch's key")
	}

	// C keeps receiving the topic but opens nothing sent after.
	unknownBefore := c.Drops()[ErrUnknownEpoch.Error()]
	if _, err := a.Send(ctx, gi.ID, "secret from a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Send(ctx, gi.ID, "secret from b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a and b read each other", func() bool {
		return hasAll(texts(t, a, gi.ID), "secret from a", "secret from b") && hasAll(texts(t, b, gi.ID), "secret from a", "secret from b")
	})
	waitFor(t, "c receives envelopes it cannot open", func() bool { return c.Drops()[ErrUnknownEpoch.Error()] >= unknownBefore+2 })
	for _, tx := range texts(t, c, gi.ID) {
		if strings.HasPrefix(tx, "secret from") {
			t.Fatalf("removed member stored %q", tx)
		}
	}

	// C's sends: refused at home, and a message crafted with C's keys under
	// the old epoch and published raw is rejected by A and B.
	if _, err := c.Send(ctx, gi.ID, "let me in"); !errors.Is(err, ErrNotGroupMember) {
		t.Fatalf("removed member's Send: %v, want ErrNotGroupMember", err)
	}
	rejBefore := a.Drops()[ErrNotMemberNow.Error()] + b.Drops()[ErrNotMemberNow.Error()]
	stats, _ := c.st.GroupStats(gc.rec.ID)
	m := &wirepb.Message{Version: WireVersion, GroupId: gc.rec.ID[:], Author: c.pub, Seq: 100, Lamport: stats.MaxLamport + 1,
		TimestampMs: time.Now().UnixMilli(), Epoch: oldEpoch,
		Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "crafted by c"}}}}
	v, err := signMessage(c.key, m)
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.SealEpochEnvelope(oldKey, v.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.topic.Publish(ctx, env); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a or b rejects the crafted message", func() bool {
		return a.Drops()[ErrNotMemberNow.Error()]+b.Drops()[ErrNotMemberNow.Error()] > rejBefore
	})
	// Direct verdicts, whichever of them gossip reached first.
	ga, _ := a.group(gi.ID)
	for _, x := range []struct {
		n *testNode
		g *group
	}{{a, ga}, {b, gb}} {
		if verdict, _ := x.n.validate(x.g, c.ID(), env); verdict != p2p.Reject {
			t.Fatalf("%s: crafted message verdict %v, want reject", x.n.cfg.displayName, verdict)
		}
		if slices.Contains(texts(t, x.n, gi.ID), "crafted by c") {
			t.Fatalf("%s stored the removed member's message", x.n.cfg.displayName)
		}
	}
	// Nor does sync serve C anything new.
	if ga.mem.allows(c.ID()) || gb.mem.allows(c.ID()) || !ga.mem.allows(b.ID()) {
		t.Fatal("a's sync still allows the removed member")
	}

	// D comes back: it catches up by sync, opens the new epoch, reads.
	d = startTestNode(t, "dave", dDir, dKey)
	connect(t, d, a)
	waitFor(t, "d catches up", func() bool {
		return hasAll(texts(t, d, gi.ID), "secret from a", "secret from b") && currentEpoch(d, gi.ID) == currentEpoch(a, gi.ID)
	})
	gd, _ := d.group(gi.ID)
	waitFor(t, "d holds the new key", func() bool { return gd.mem.key(epochOf(gd)) != nil })
	if _, err := d.Send(ctx, gi.ID, "dave is back"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reads d", func() bool { return slices.Contains(texts(t, a, gi.ID), "dave is back") })
	if slices.Contains(memberNames(t, d, gi.ID), "carol:member") {
		t.Fatal("d still lists carol")
	}
}

func TestInviteRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	a := newTestNode(t, "alice", "", WithSyncInterval(0), WithClock(func() time.Time { return clock() }))
	gi, err := a.CreateGroup(ctx, "Door", false)
	if err != nil {
		t.Fatal(err)
	}
	join := func(code string) error {
		n := newTestNode(t, "joiner", "", WithSyncInterval(0))
		_, err := n.Join(ctx, code)
		return err
	}
	// Used up: one use.
	once, info, err := a.CreateInvite(ctx, gi.ID, InviteOptions{Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxUses != 1 || info.Uses != 0 || !info.Expires.After(now.Add(6*24*time.Hour)) {
		t.Fatalf("invite info %+v", info)
	}
	if err := join(once); err != nil {
		t.Fatal(err)
	}
	if err := join(once); !errors.Is(err, ErrInviteUsedUp) {
		t.Fatalf("second use: %v, want ErrInviteUsedUp", err)
	}
	// Revoked.
	revoked, rinfo, err := a.CreateInvite(ctx, gi.ID, InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeInvite(ctx, gi.ID, rinfo.ID[:8]); err != nil {
		t.Fatal(err)
	}
	if err := join(revoked); !errors.Is(err, ErrInviteRevoked) {
		t.Fatalf("revoked: %v, want ErrInviteRevoked", err)
	}
	// Expired: a's clock moves past the expiry.
	expiring, _, err := a.CreateInvite(ctx, gi.ID, InviteOptions{Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Hour)
	clock = func() time.Time { return later }
	if err := join(expiring); !errors.Is(err, ErrInviteExpired) {
		t.Fatalf("expired: %v, want ErrInviteExpired", err)
	}
	invs, err := a.Invites(gi.ID)
	if err != nil || len(invs) != 3 {
		t.Fatalf("invites %+v %v", invs, err)
	}
	// A version 1 invite (it carried the group secret) is refused.
	g, _ := a.group(gi.ID)
	v1 := vtInviteCode(t, &wirepb.Invite{Version: 1, GroupName: "Door", Secret: g.rec.Secret, Inviter: []byte(a.ID())})
	if err := join(v1); !errors.Is(err, ErrOldInvite) || !errors.Is(err, ErrBadInvite) {
		t.Fatalf("v1 invite: %v, want ErrOldInvite", err)
	}
	// Member sends to a legacy group are refused clearly.
	lg := legacyGroup(t, a, "Old")
	if _, err := a.Send(ctx, lg.rec.Name, "hi"); !errors.Is(err, ErrLegacyGroup) {
		t.Fatalf("legacy send: %v", err)
	}
}

// A|B,C,D partitioned; A removes C while B promotes C and sends; after the
// heal the remaining members converge to one member list and epoch. (C, the
// removed one, is refused by sync, so it learns of the removal only if it
// hears the op by gossip: it reads nothing new either way.)
func TestPartitionedMembershipConverges(t *testing.T) {
	if raceEnabled {
		// The same mocknet artefact as TestPartitionHeal: under -race a
		// GossipSub stream can survive the cut and carry the removal across
		// the partition. The test runs without -race in the same CI job.
		t.Skip("mocknet's teardown lets a GossipSub stream survive a cut under -race")
	}
	mn, nodes := mockNodes(t, 4, WithSyncInterval(500*time.Millisecond))
	a, b, c, d := nodes[0], nodes[1], nodes[2], nodes[3]
	ctx := context.Background()
	gi, err := a.CreateGroup(ctx, "Split", false)
	if err != nil {
		t.Fatal(err)
	}
	joinVia(t, a, b, gi.ID)
	joinVia(t, a, c, gi.ID)
	joinVia(t, a, d, gi.ID)
	makeAdmin(t, a, b, gi.ID)
	for _, n := range nodes {
		waitFor(t, "four members", func() bool { return len(mustList(t, n, gi.ID)) == 4 })
	}
	partition(t, mn, []*testNode{a}, []*testNode{b, c, d})
	if err := a.RemoveMember(ctx, gi.ID, c.ID().String()); err != nil {
		t.Fatal(err)
	}
	if err := b.Promote(ctx, gi.ID, c.ID().String()); err != nil {
		t.Fatalf("%v (b lists %v)", err, memberNames(t, b, gi.ID))
	}
	if _, err := b.Send(ctx, gi.ID, "during split"); err != nil {
		t.Fatal(err)
	}
	heal(t, mn, []*testNode{a}, []*testNode{b, c, d})
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("%s: members %v epoch %x drops %v texts %v", n.cfg.displayName, memberNames(t, n, gi.ID),
					currentEpoch(n, gi.ID)[:4], n.Drops(), texts(t, n, gi.ID))
			}
		}
	})
	waitFor(t, "member lists and epochs converge", func() bool {
		la, lb, ld := memberNames(t, a, gi.ID), memberNames(t, b, gi.ID), memberNames(t, d, gi.ID)
		ea := currentEpoch(a, gi.ID)
		return slices.Equal(la, lb) && slices.Equal(la, ld) && ea == currentEpoch(b, gi.ID) && ea == currentEpoch(d, gi.ID)
	})
	// The owner's removal is ordered against the promote: either way C is
	// not a member at the end on both sides (remove wins or drops the later
	// promote; a promote ordered first is overridden by the removal).
	if slices.ContainsFunc(memberNames(t, a, gi.ID), func(s string) bool { return strings.HasPrefix(s, "n2:") }) {
		t.Fatalf("c still listed: %v", memberNames(t, a, gi.ID))
	}
	waitFor(t, "a reads b's message from the split", func() bool { return slices.Contains(texts(t, a, gi.ID), "during split") })
	// And the remaining members talk on the new epoch.
	if _, err := d.Send(ctx, gi.ID, "after heal"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a and b read d", func() bool {
		return slices.Contains(texts(t, a, gi.ID), "after heal") && slices.Contains(texts(t, b, gi.ID), "after heal")
	})
	for _, tx := range texts(t, c, gi.ID) {
		if tx == "after heal" {
			t.Fatal("removed member read a message sent after its removal")
		}
	}
}

// Epochs rotate on a timer, and the secrets of past epochs are deleted
// from the store after the grace period (forward secrecy for captured
// traffic); history stays readable (stored as verified plaintext).
func TestEpochTimerRotationAndSecretDeletion(t *testing.T) {
	ctx := context.Background()
	a := newTestNode(t, "alice", "", WithEpochRotation(300*time.Millisecond), WithEpochGrace(200*time.Millisecond),
		WithMaintenanceInterval(50*time.Millisecond))
	gi, err := a.CreateGroup(ctx, "Timer", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, gi.ID, "epoch zero"); err != nil {
		t.Fatal(err)
	}
	g, _ := a.group(gi.ID)
	first := epochOf(g)
	var id [32]byte
	copy(id[:], first)
	waitFor(t, "a timer rotation", func() bool { return string(epochOf(g)) != string(first) })
	waitFor(t, "the old epoch's secret deleted", func() bool {
		secrets, err := a.st.EpochSecrets(g.rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, kept := secrets[id]
		return !kept && len(secrets) >= 1
	})
	if g.mem.key(first) != nil {
		t.Fatal("old epoch key still in memory")
	}
	if !slices.Contains(texts(t, a, gi.ID), "epoch zero") {
		t.Fatal("history lost")
	}
	if _, err := a.Send(ctx, gi.ID, "later epoch"); err != nil {
		t.Fatal(err)
	}
}
