package node

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/crypto/chacha20poly1305"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Fuzz targets for every decoder of network or stored input. Run one with
//
//	go test ./node -run '^$' -fuzz '^FuzzVerifySigned$' -fuzztime 30s
//
// Without -fuzz, `go test` runs each on its seeds (f.Add and testdata/fuzz).

// fzKnownReason reports whether err is one of the counted drop reasons: the
// validator must never refuse for a reason it cannot name.
func fzKnownReason(err error) bool {
	for _, r := range dropReasons {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// fzSignedSeeds are real SignedMessage encodings for group g: the kinds of
// message a node sends, and a few it must refuse.
func fzSignedSeeds(t testing.TB, g store.GroupID) [][]byte {
	bob, mallory := vtKey(t, 1), vtKey(t, 2)
	text := vtText(t, g, bob, 1, 1, "hello")
	join := vtText(t, g, bob, 2, 2, "")
	join.Body = &wirepb.Body{Kind: &wirepb.Body_Join{Join: &wirepb.Join{DisplayName: "Bob 🙂"}}}
	withParents := vtText(t, g, bob, 3, 9, "with parents, ünïcødé")
	for i := range 3 {
		withParents.Parents = append(withParents.Parents, bytes.Repeat([]byte{byte(i + 1)}, store.MessageIDLen))
	}
	future := vtText(t, g, bob, 4, 10, "")
	future.Body = &wirepb.Body{}
	unknownInner := protowire.AppendBytes(protowire.AppendTag(vtMarshal(t, vtText(t, g, bob, 5, 11, "x")), 42, protowire.BytesType), []byte("future"))
	textRaw := vtSign(t, bob, text)
	outerPadded := protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), textRaw...), 9, protowire.BytesType), []byte("pad"))
	batch, err := signBatch(bob, []*wirepb.Message{
		vtText(t, g, bob, 6, 12, "batched 1"), vtText(t, g, bob, 7, 13, "batched 2"), vtText(t, g, bob, 8, 14, "batched 3"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{
		textRaw,
		batch[0].Raw, // signed once for the batch, with a Merkle proof
		batch[2].Raw,
		vtSign(t, bob, join),
		vtSign(t, bob, withParents),
		vtSign(t, bob, future),
		vtSignBytes(t, bob, unknownInner),
		outerPadded,
		vtSign(t, mallory, text), // forged
		vtSign(t, bob, vtText(t, g, bob, 0, 1, "s0")), // seq 0
		vtSign(t, bob, vtText(t, vtKeys(t, 0x99).ID, bob, 1, 1, "other group")),
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	keys := vtKeys(f, 0x11)
	for i, raw := range fzSignedSeeds(f, keys.ID) {
		nonce := bytes.Repeat([]byte{byte(i)}, chacha20poly1305.NonceSizeX)
		f.Add(vtSealNonce(f, &keys, LegacyEnvelopeVersion, nonce, raw))
	}
	f.Add(vtSeal(f, &keys, nil))                                                            // a bundle of one empty message
	f.Add(vtSeal(f, &keys, fzSignedSeeds(f, keys.ID)[:3]...))                               // a bundle of three
	f.Add(vtSealNonce(f, &keys, 1, make([]byte, 24), []byte("v1")))                         // old version
	f.Add(vtMarshal(f, &wirepb.Envelope{Version: LegacyEnvelopeVersion, Nonce: []byte{1}})) // short nonce
	f.Add([]byte{})
	f.Add([]byte("\x08\x01\x12\x18aaaaaaaaaaaaaaaaaaaaaaaa\x1a\x05junk!"))

	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := openEnvelope(&keys, data)
		if err != nil {
			if out != nil || !fzKnownReason(err) {
				t.Fatalf("refused with %v (out %d bytes)", err, len(out))
			}
			return
		}
		// It opened: it must be a well-formed, bounded envelope of this
		// version, and the output exactly the bundle sealed under its nonce.
		if len(data) > MaxEnvelopeSize {
			t.Fatalf("opened a %d-byte envelope", len(data))
		}
		var env wirepb.Envelope
		if err := proto.Unmarshal(data, &env); err != nil {
			t.Fatalf("opened an envelope that does not decode: %v", err)
		}
		if env.Version != LegacyEnvelopeVersion || len(env.Nonce) != chacha20poly1305.NonceSizeX {
			t.Fatalf("opened version %d, nonce %d bytes", env.Version, len(env.Nonce))
		}
		plain, err := keys.Open(env.Nonce, env.Ciphertext)
		if err != nil {
			t.Fatal("opened a ciphertext that does not authenticate")
		}
		var b wirepb.Bundle
		if err := proto.Unmarshal(plain, &b); err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 || len(out) > MaxBundleMessages || len(out) != len(b.Messages) {
			t.Fatalf("opened a bundle of %d messages (sealed %d)", len(out), len(b.Messages))
		}
		for i := range out {
			if !bytes.Equal(out[i], b.Messages[i]) {
				t.Fatalf("message %d is not what was sealed", i)
			}
		}
	})
}

func FuzzVerifySigned(f *testing.F) {
	g := vtKeys(f, 0x11).ID
	for _, raw := range fzSignedSeeds(f, g) {
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00})

	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := verifySigned(g, data)
		if err != nil {
			if v != nil || !fzKnownReason(err) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if len(data) > MaxEnvelopeSize {
			t.Fatal("accepted an oversized message")
		}
		// What is kept is a clean re-encoding: verifying it again is a fixed point.
		again, err := verifySigned(g, v.Raw)
		if err != nil || again.ID != v.ID || !bytes.Equal(again.Raw, v.Raw) {
			t.Fatalf("stored form does not re-verify to itself: %v", err)
		}
		var sm wirepb.SignedMessage
		if err := proto.Unmarshal(data, &sm); err != nil {
			t.Fatal(err)
		}
		if v.ID != messageID(sm.Message) {
			t.Fatal("id is not the hash of the signed bytes")
		}
		if v.Msg.Version != WireVersion || !bytes.Equal(v.Msg.GroupId, g[:]) || checkFields(v.Msg) != nil {
			t.Fatal("accepted a message that fails its own field checks")
		}
		if id, err := authorID(v.Msg.Author); err != nil || id != v.Author {
			t.Fatalf("author %s does not match the key (%v)", v.Author, err)
		}
		// It re-verifies, from its bytes and from a canonical wrapper, with the same id.
		for _, raw := range [][]byte{v.Raw, vtMarshal(t, &wirepb.SignedMessage{Message: sm.Message, Signature: sm.Signature, Batch: sm.Batch})} {
			v2, err := verifySigned(g, raw)
			if err != nil || v2.ID != v.ID || v2.Author != v.Author {
				t.Fatalf("re-verify: %v", err)
			}
		}
		// The trusted decoder used for stored bytes agrees.
		d, err := decodeSigned(data)
		if err != nil || d.ID != v.ID || d.Author != v.Author {
			t.Fatalf("decodeSigned disagrees: %v", err)
		}
		// What the validator admits, the store must take (else a whole
		// received batch would fail to commit).
		sm2 := v.StoreMessage(g)
		if len(sm2.Author) == 0 || len(sm2.Author) > 255 || sm2.Seq == 0 || len(sm2.Raw) == 0 || len(sm2.Parents) != len(v.Msg.Parents) {
			t.Fatalf("accepted message the store refuses: %+v", sm2)
		}
		if m := toMessage(g, v); m.ID != hex.EncodeToString(v.ID[:]) {
			t.Fatal("toMessage id")
		}
	})
}

func FuzzDecodeStored(f *testing.F) {
	g := vtKeys(f, 0x11).ID
	for _, raw := range fzSignedSeeds(f, g) {
		f.Add(raw)
	}
	f.Add([]byte{})
	// Author present but not a key, and a non-Ed25519 key.
	f.Add(vtSignBytes(f, vtKey(f, 1), vtMarshal(f, &wirepb.Message{Author: []byte("nope")})))
	names := map[peer.ID]string{vtPeer(f, vtKey(f, 1)): "bob"}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeStored(g, store.Stored{Raw: data}, names)
		d, derr := decodeSigned(data)
		if (err == nil) != (derr == nil) {
			t.Fatalf("decodeStored %v, decodeSigned %v", err, derr)
		}
		if v, verr := verifySigned(g, data); verr == nil && (derr != nil || d.ID != v.ID || d.Author != v.Author) {
			t.Fatalf("verified message does not decode from storage: %v", derr)
		}
		if err != nil {
			if !fzKnownReason(err) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if m.ID != hex.EncodeToString(d.ID[:]) || m.Author != d.Author.String() || m.Group != hex.EncodeToString(g[:]) ||
			m.Seq != d.Msg.Seq || m.Lamport != d.Msg.Lamport || len(m.Parents) != len(d.Msg.Parents) {
			t.Fatalf("decoded %+v", m)
		}
		if m.AuthorName != names[d.Author] {
			t.Fatalf("author name %q", m.AuthorName)
		}
		if !slices.Contains([]string{"text", "join", "unsupported"}, m.Kind) {
			t.Fatalf("kind %q", m.Kind)
		}
		c, err := parseCursor(m.Cursor)
		if err != nil || c.Lamport != d.Msg.Lamport || c.ID != d.ID {
			t.Fatalf("cursor %q does not round-trip: %v", m.Cursor, err)
		}
	})
}

func FuzzDecodeInvite(f *testing.F) {
	inviter := vtPeer(f, vtKey(f, 4))
	var addrs [][]byte
	for _, s := range []string{"/ip4/192.168.1.20/tcp/4001", "/ip6/::1/udp/4001/quic-v1", "/dns4/example.org/tcp/443/wss"} {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			f.Fatal(err)
		}
		addrs = append(addrs, a.Bytes())
	}
	realInv := &wirepb.Invite{Version: InviteVersion, GroupName: "Family 👪", Token: vtToken(), GroupId: bytes.Repeat([]byte{5}, 16),
		Inviter: []byte(inviter), InviterAddrs: addrs, CreatedMs: 1_700_000_000_000, HistoryFromJoin: true}
	code := vtInviteCode(f, realInv)
	f.Add(code)
	f.Add(strings.ToUpper(code))
	f.Add(code[:40] + "\n  " + code[40:])
	f.Add(vtInviteCode(f, vtInvite()))
	f.Add(vtInviteCode(f, &wirepb.Invite{Version: InviteVersion, GroupName: "x", Token: make([]byte, 65), InviterAddrs: addrs}))
	f.Add(vtInviteCode(f, &wirepb.Invite{Version: 1, GroupName: "x", Secret: make([]byte, SecretLen), InviterAddrs: addrs}))
	f.Add("parley1")
	f.Add("parley1" + strings.Repeat("7", 100))
	f.Add("")

	f.Fuzz(func(t *testing.T, code string) {
		d, err := DecodeInvite(code)
		if err != nil {
			if !errors.Is(err, ErrBadInvite) {
				t.Fatalf("refused with %v, not ErrBadInvite", err)
			}
			if d.token != (membership.InviteToken{}) || d.GroupName != "" || d.Inviter.ID != "" {
				t.Fatalf("refused but returned %+v", d)
			}
			return
		}
		if n := len(strings.Join(strings.Fields(code), "")); n > maxInviteLen {
			t.Fatalf("accepted a %d-char invite", n)
		}
		if checkName(d.GroupName) != nil {
			t.Fatalf("accepted group name %q", d.GroupName)
		}
		if len(d.GroupID) != 32 {
			t.Fatalf("group id %q", d.GroupID)
		}
		if len(d.Inviter.Addrs) > maxInviteAddr {
			t.Fatalf("%d inviter addresses", len(d.Inviter.Addrs))
		}
		if d.Inviter.ID != "" {
			if err := d.Inviter.ID.Validate(); err != nil {
				t.Fatalf("inviter id: %v", err)
			}
		} else if len(d.Inviter.Addrs) > 0 {
			t.Fatal("addresses without an inviter")
		}
		// What was decoded encodes again to an invite that decodes the same.
		gidb, _ := hex.DecodeString(d.GroupID)
		inv := &wirepb.Invite{Version: InviteVersion, GroupName: d.GroupName, Token: d.token.Bytes(), GroupId: gidb, Inviter: []byte(d.Inviter.ID), HistoryFromJoin: d.HistoryFromJoin}
		for _, a := range d.Inviter.Addrs {
			inv.InviterAddrs = append(inv.InviterAddrs, a.Bytes())
		}
		b, err := proto.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeInvite(invitePrefix + strings.ToLower(inviteEncoding.EncodeToString(b)))
		if err != nil && len(b)*8/5 < maxInviteLen-len(invitePrefix)-1 {
			t.Fatalf("re-encoded invite refused: %v", err)
		}
		if err == nil && (again.GroupName != d.GroupName || again.GroupID != d.GroupID || again.HistoryFromJoin != d.HistoryFromJoin ||
			again.Inviter.ID != d.Inviter.ID || len(again.Inviter.Addrs) != len(d.Inviter.Addrs)) {
			t.Fatalf("round trip: %+v, then %+v", d, again)
		}
		for i := range again.Inviter.Addrs {
			if err == nil && !again.Inviter.Addrs[i].Equal(d.Inviter.Addrs[i]) {
				t.Fatalf("address %d: %s, then %s", i, d.Inviter.Addrs[i], again.Inviter.Addrs[i])
			}
		}
	})
}

// fzSyncFixture is a node holding one group with messages by two authors,
// one of them with a gap in its sequence, at distinct times.
type fzSyncFixture struct {
	n       *testNode
	g       *group
	entries map[store.MessageID]fzEntry
	raws    [][]byte
}

type fzEntry struct {
	author string
	seq    uint64
	timeMs int64
}

func newSyncFixture(t testing.TB) *fzSyncFixture {
	t.Helper()
	ctx := context.Background()
	n := startTestNode(t, "fuzz", "", vtKey(t, 5), WithSyncInterval(0), WithClock(func() time.Time { return time.UnixMilli(fzBaseMs + 3000) }))
	gi, err := n.CreateGroup(ctx, "Fuzz", false)
	if err != nil {
		t.Fatal(err)
	}
	g, err := n.group(gi.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two", "three"} {
		if _, err := n.Send(ctx, gi.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	bob := vtKey(t, 1)
	vtAdmit(t, n, g, bob, "bob")
	var vs []*verified
	for _, seq := range []uint64{1, 2, 4} { // bob's seq 3 is missing
		m := withEpoch(g, vtText(t, g.rec.ID, bob, seq, 10+seq, "bob"))
		m.TimestampMs = fzBaseMs + int64(seq)*1000
		v, err := signMessage(bob, m)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if added, err := n.ingest(g, vs, ""); err != nil || added != 3 {
		t.Fatalf("ingest: %d, %v", added, err)
	}
	fx := &fzSyncFixture{n: n, g: g, entries: map[store.MessageID]fzEntry{}}
	for _, raw := range vtStoredRaw(t, n, g.rec.ID) {
		v, err := decodeSigned(raw)
		if err != nil {
			t.Fatal(err)
		}
		fx.entries[v.ID] = fzEntry{author: string(v.Author), seq: v.Msg.Seq, timeMs: v.Msg.TimestampMs}
		fx.raws = append(fx.raws, raw)
	}
	if len(fx.entries) != 7 {
		t.Fatalf("fixture holds %d messages", len(fx.entries))
	}
	return fx
}

// checkPlan checks plan's answer to req against the fixture: exactly the
// messages past the requester's vector (and not older than since) plus the
// wanted ones it holds, each once, in (lamport, id) order.
func (fx *fzSyncFixture) checkPlan(t testing.TB, req *wirepb.SyncRequest, out []syncproto.PlanEntry) {
	t.Helper()
	have := map[string]uint64{}
	for _, a := range req.Have {
		if a != nil {
			have[string(a.Author)] = a.Seq
		}
	}
	want := map[store.MessageID]bool{}
	for _, w := range req.Want {
		if len(w) == store.MessageIDLen {
			want[store.MessageID(w)] = true
		}
	}
	got := map[store.MessageID]bool{}
	for i, e := range out {
		if got[e.ID] {
			t.Fatalf("%x planned twice", e.ID[:4])
		}
		got[e.ID] = true
		if i > 0 {
			p := out[i-1]
			if p.Lamport > e.Lamport || (p.Lamport == e.Lamport && bytes.Compare(p.ID[:], e.ID[:]) >= 0) {
				t.Fatal("plan not in (lamport, id) order")
			}
		}
		if _, ok := fx.entries[e.ID]; !ok {
			t.Fatalf("planned %x, which is not stored", e.ID[:4])
		}
		if _, err := fx.n.st.GetAt(fx.g.rec.ID, e.Lamport, e.ID); err != nil {
			t.Fatalf("planned entry cannot be read: %v", err)
		}
	}
	for id, e := range fx.entries {
		h := have[e.author]
		due := want[id] || (e.seq > h && e.timeMs >= req.SinceMs)
		if due != got[id] {
			t.Fatalf("message seq %d at %d ms (have %d, since %d, wanted %v): planned %v, want %v",
				e.seq, e.timeMs, h, req.SinceMs, want[id], got[id], due)
		}
	}
}

// fzBaseMs is the fixture's epoch: a real date, as timestamps before 2000
// are refused (envelope.MinTimestampMs).
const fzBaseMs = 1_700_000_000_000

func FuzzSyncMessages(f *testing.F) {
	fx := newSyncFixture(f)
	n, g := fx.n, fx.g
	vec, err := n.st.Vector(g.rec.ID)
	if err != nil {
		f.Fatal(err)
	}
	full := &wirepb.SyncRequest{}
	for _, a := range vec {
		full.Have = append(full.Have, &wirepb.AuthorSeq{Author: a.Author, Seq: a.Seq})
	}
	f.Add(vtMarshal(f, full))
	partial := &wirepb.SyncRequest{SinceMs: fzBaseMs + 2000}
	for i, a := range vec {
		partial.Have = append(partial.Have, &wirepb.AuthorSeq{Author: a.Author, Seq: uint64(i)})
	}
	for id := range fx.entries {
		partial.Want = append(partial.Want, append([]byte(nil), id[:]...))
		break
	}
	partial.Want = append(partial.Want, make([]byte, store.MessageIDLen), []byte("short"))
	f.Add(vtMarshal(f, partial))
	f.Add(vtMarshal(f, &wirepb.SyncRequest{}))
	nonce := bytes.Repeat([]byte{3}, 32)
	f.Add(vtMarshal(f, &wirepb.SyncHello{Version: WireVersion, Nonce: nonce, Proof: g.keys.SyncProof("req", []byte("requester"), []byte(n.ID()), nonce)}))
	f.Add(vtMarshal(f, &wirepb.SyncHelloReply{Version: WireVersion, Ok: true, Proof: g.keys.SyncProof("resp", []byte("requester"), []byte(n.ID()), nonce)}))
	f.Add(vtMarshal(f, &wirepb.SyncBatch{Messages: fx.raws, Remaining: 3}))
	f.Add(vtMarshal(f, &wirepb.SyncBatch{Messages: fzSignedSeeds(f, g.rec.ID), Done: true}))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		// Hello, as the responder reads it: it tries each of its groups.
		var hello wirepb.SyncHello
		if proto.Unmarshal(data, &hello) == nil && len(data) <= syncproto.MaxHelloSize {
			for _, cand := range n.allGroups() {
				_ = hmac.Equal(hello.Proof, cand.keys.SyncProof("req", []byte("requester"), []byte(n.ID()), hello.Nonce))
			}
		}
		var reply wirepb.SyncHelloReply
		_ = proto.Unmarshal(data, &reply)

		// A batch, as the requester verifies it.
		var batch wirepb.SyncBatch
		if proto.Unmarshal(data, &batch) == nil && len(batch.Messages) <= syncproto.MaxBatchMessages {
			for _, v := range n.sync.VerifyBatch(g.sync, batch.Messages) {
				if _, err := verifySigned(g.rec.ID, v.Raw); err != nil {
					t.Fatalf("verifyBatch kept a message that does not verify: %v", err)
				}
			}
		}

		// A request, as the responder plans its answer.
		var req wirepb.SyncRequest
		if proto.Unmarshal(data, &req) != nil || len(req.Have) > syncproto.MaxHave || len(req.Want) > syncproto.MaxWant {
			return
		}
		out, err := n.sync.Plan(g.sync, &req)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		fx.checkPlan(t, &req, out)
	})
}

// A requester that says it holds every seq of an author is owed nothing of
// that author's. store.AuthorAfter seeks to after+1, which wraps to 0 for
// math.MaxUint64 (store/read.go:250), so plan sends the author's whole history.
func TestSyncPlanHaveMaxSeq(t *testing.T) {
	fx := newSyncFixture(t)
	vec, err := fx.n.st.Vector(fx.g.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	req := &wirepb.SyncRequest{}
	for _, a := range vec {
		req.Have = append(req.Have, &wirepb.AuthorSeq{Author: a.Author, Seq: math.MaxUint64})
	}
	out, err := fx.n.sync.Plan(fx.g.sync, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Fatalf("plan returned %d of %d messages for a requester holding everything",
			len(out), len(fx.entries))
	}
}
