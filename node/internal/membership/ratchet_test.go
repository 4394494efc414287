package membership

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestRatchet(t *testing.T) {
	secret := NewEpochSecret()
	epoch, alice, bob := OpID{1}, Key{2}, Key{3}
	send := NewSendChain(secret, epoch, alice)
	recv := NewRecvChain(secret, epoch, alice)

	// The chain is HMAC(ck, 1) / HMAC(ck, 2).
	ck := send.Chain
	h := hmac.New(sha256.New, ck[:])
	h.Write([]byte{1})
	var want MessageKey
	h.Sum(want[:0])

	keys := make([]MessageKey, 10)
	for i := range keys {
		idx, k := send.Next()
		if idx != uint32(i) {
			t.Fatal("index")
		}
		keys[i] = k
	}
	if keys[0] != want {
		t.Fatal("message key is not HMAC(ck, 0x01)")
	}
	if send.Chain == ck {
		t.Fatal("chain key not overwritten")
	}
	// Out of order: 3, then 0, 1, then 9, then replays.
	for _, i := range []uint32{3, 0, 1, 9, 2} {
		k, err := recv.Take(i)
		if err != nil || k != keys[i] {
			t.Fatalf("index %d: %v", i, err)
		}
	}
	for _, i := range []uint32{3, 0, 9} {
		_, err := recv.Take(i)
		wantErr(t, err, ErrKeyGone)
	}
	if len(recv.Skipped) != 5 { // 4..8
		t.Fatalf("skipped %d", len(recv.Skipped))
	}
	_, err := recv.Take(recv.Index + MaxSkip + 1)
	wantErr(t, err, ErrTooFarAhead)
	if recv.Index != 10 {
		t.Fatal("refused index moved the chain")
	}
	// Skipping past the window evicts the oldest skipped keys.
	if _, err := recv.Take(recv.Index + MaxSkip); err != nil {
		t.Fatal(err)
	}
	if len(recv.Skipped) != MaxSkip {
		t.Fatalf("skipped %d", len(recv.Skipped))
	}
	_, err = recv.Take(4)
	wantErr(t, err, ErrKeyGone)

	// Other sender, other epoch: other keys.
	if _, k := NewSendChain(secret, epoch, bob).Next(); k == keys[0] {
		t.Fatal("senders share a chain")
	}
	if _, k := NewSendChain(secret, OpID{9}, alice).Next(); k == keys[0] {
		t.Fatal("epochs share a chain")
	}
}
