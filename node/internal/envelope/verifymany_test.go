package envelope

import (
	"errors"
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// A page mixing single messages, a Merkle batch, a forged single, a batch
// member with a tampered signature, a wrong group, junk and an oversized
// input: VerifyMany gives, message by message, VerifySigned's outcome.
func TestVerifyManyMatchesVerifySigned(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := crypto.GenerateEd25519Key(nil)
	author, _ := crypto.MarshalPublicKey(key.GetPublic())
	var g, g2 store.GroupID
	g[0], g2[0] = 1, 2
	var raws [][]byte
	for i := range 3 {
		v, err := SignMessage(key, text(g, author, uint64(i+1), uint64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, v.Raw)
	}
	var batch []*wirepb.Message
	for i := range 9 {
		batch = append(batch, text(g, author, uint64(10+i), uint64(10+i)))
	}
	bs, err := SignBatch(key, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range bs {
		raws = append(raws, v.Raw)
	}
	// Forged: our author, another key's signature.
	forged, _ := SignMessage(other, text(g, author, 50, 50))
	raws = append(raws, forged.Raw)
	// A batch member whose signature was swapped for a forged one.
	sm, _, _ := UnmarshalSigned(bs[2].Raw)
	sm.Signature = append([]byte(nil), sm.Signature...)
	sm.Signature[0] ^= 1
	tampered, _ := proto.Marshal(sm)
	raws = append(raws, tampered)
	wrong, _ := SignMessage(key, text(g2, author, 60, 60))
	raws = append(raws, wrong.Raw, []byte("junk"), make([]byte, MaxEnvelopeSize+1))

	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			ver := NewVerifier()
			if cached {
				if _, err := ver.Signed(g, bs[0].Raw); err != nil {
					t.Fatal(err)
				}
			}
			out, errs := ver.Many(g, raws)
			for i, raw := range raws {
				want, wantErr := VerifySigned(g, raw)
				if (errs[i] == nil) != (wantErr == nil) || (wantErr != nil && !errors.Is(errs[i], unwrapSentinel(wantErr))) {
					t.Fatalf("message %d: VerifyMany err %v, VerifySigned err %v", i, errs[i], wantErr)
				}
				if wantErr == nil && (out[i] == nil || out[i].ID != want.ID || out[i].Author != want.Author || string(out[i].Raw) != string(want.Raw)) {
					t.Fatalf("message %d: VerifyMany gave %+v, want %+v", i, out[i], want)
				}
			}
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				}
			}
			if ok != 3+9 {
				t.Fatalf("%d messages verified, want 12", ok)
			}
		})
	}
}

func unwrapSentinel(err error) error {
	for _, s := range []error{ErrOversized, ErrMalformed, ErrWrongGroup, ErrBadSignature, ErrBadAuthor, ErrBadField, ErrVersion} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// FuzzVerifyMany: on any input, a page of it verifies as VerifySigned
// verifies each message alone (no input here carries a signed chain that
// could vouch for another: that is FuzzVerifyManyChains's).
func FuzzVerifyMany(f *testing.F) {
	key, _, _ := crypto.GenerateEd25519Key(nil)
	author, _ := crypto.MarshalPublicKey(key.GetPublic())
	var g store.GroupID
	v, _ := SignMessage(key, text(g, author, 1, 1))
	bs, _ := SignBatch(key, []*wirepb.Message{text(g, author, 2, 2), text(g, author, 3, 3)})
	f.Add(v.Raw, bs[0].Raw)
	f.Add(bs[1].Raw, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		raws := [][]byte{a, b, a}
		out, errs := VerifyMany(g, raws)
		for i, raw := range raws {
			want, err := VerifySigned(g, raw)
			if (err == nil) != (errs[i] == nil) {
				t.Fatalf("message %d: VerifyMany err %v, VerifySigned err %v", i, errs[i], err)
			}
			if err == nil && (out[i].ID != want.ID || string(out[i].Raw) != string(want.Raw)) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}
