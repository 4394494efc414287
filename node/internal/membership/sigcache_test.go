package membership

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

// A remembered good signature must never answer for other bytes: another
// message, another signature or another key under the same signature.
func TestVerifyMemoAnswersOnlyForTheSameBytes(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("join op")
	sig := ed25519.Sign(priv, msg)
	for i := range 2 { // the second answer comes from the memo
		if !verify(pub, msg, sig) {
			t.Fatalf("check %d: a good signature refused", i)
		}
	}
	bad := append([]byte(nil), sig...)
	bad[0] ^= 1
	cases := map[string]bool{
		"other message":   verify(pub, []byte("join oq"), sig),
		"other signature": verify(pub, msg, bad),
		"other key":       verify(other, msg, sig),
		// length prefixes: moving a byte from message to key changes the key
		"shifted bytes": verify(pub, append(msg, sig[0]), sig[1:]),
	}
	for name, ok := range cases {
		if ok {
			t.Errorf("%s: accepted after the good signature was remembered", name)
		}
	}
}

func TestVerifyMemoStaysBounded(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	for i := range maxGoodSigs + 10 {
		msg := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
		if !verify(pub, msg, ed25519.Sign(priv, msg)) {
			t.Fatal("good signature refused")
		}
	}
	goodSigs.mu.Lock()
	n := len(goodSigs.m)
	goodSigs.mu.Unlock()
	if n > maxGoodSigs {
		t.Fatalf("memo holds %d, bound %d", n, maxGoodSigs)
	}
}
