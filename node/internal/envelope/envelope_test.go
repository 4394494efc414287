package envelope

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

func text(g store.GroupID, author []byte, seq, lamport uint64, parents ...[]byte) *wirepb.Message {
	return &wirepb.Message{Version: WireVersion, GroupId: g[:], Author: author, Seq: seq, Lamport: lamport,
		TimestampMs: 1, Parents: parents, Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "hi"}}}}
}

// The format alone: a signed batch is sealed, opened by a member only,
// verified message by message, and checked for causality.
func TestSealOpenVerifyCausality(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	author, _ := crypto.MarshalPublicKey(key.GetPublic())
	id, _ := peer.IDFromPrivateKey(key)
	keys, err := DeriveKeys(NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	first := text(keys.ID, author, 1, 5)
	body, _ := MarshalMessage(first)
	firstID := MessageID(body)
	vs, err := SignBatch(key, []*wirepb.Message{first, text(keys.ID, author, 2, 6, firstID[:])})
	if err != nil {
		t.Fatal(err)
	}
	env, err := SealEnvelope(&keys, vs[0].Raw, vs[1].Raw)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := DeriveKeys(NewSecret())
	if _, err := OpenEnvelope(&other, env); !errors.Is(err, ErrNotMember) {
		t.Fatalf("non-member open: %v", err)
	}
	raws, err := OpenEnvelope(&keys, env)
	if err != nil || len(raws) != 2 {
		t.Fatalf("open: %d %v", len(raws), err)
	}
	var got []*Verified
	for i, raw := range raws {
		v, err := VerifySigned(keys.ID, raw) // a fresh Verifier: the signature is checked
		if err != nil || v.ID != vs[i].ID || v.Author != id {
			t.Fatalf("verify %d: %v", i, err)
		}
		got = append(got, v)
	}
	none := func(store.MessageID) (uint64, bool, error) { return 0, false, nil }
	if kept, gap, bad := CheckCausality(got, none); len(kept) != 2 || gap || bad != 0 {
		// the first message's parents are none, the second's is in the batch
		t.Fatalf("causality: kept %d gap %v bad %d", len(kept), gap, bad)
	}
	// Held at a clock above the child's: the child is refused, the rest kept.
	late := func(p store.MessageID) (uint64, bool, error) { return 99, p == firstID, nil }
	if kept, _, bad := CheckCausality(got[1:], late); len(kept) != 0 || bad != 1 {
		t.Fatalf("clock below a held parent's: kept %d bad %d", len(kept), bad)
	}
}
