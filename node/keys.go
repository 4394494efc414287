package node

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/parley-chat/parley/store"
)

// SecretLen is the size of a group secret.
const SecretLen = 32

// groupKeys are everything derived from one group secret (HKDF-SHA256, one
// label per use, so no key serves two purposes).
type groupKeys struct {
	id      store.GroupID // local and in-message group id
	topic   string        // pubsub topic: reveals nothing about the name
	msgKey  []byte        // XChaCha20-Poly1305 key for envelopes
	syncKey []byte        // HMAC key proving membership to sync peers
}

func deriveKeys(secret []byte) (groupKeys, error) {
	if len(secret) != SecretLen {
		return groupKeys{}, fmt.Errorf("%w: group secret must be %d bytes", ErrInvalidInput, SecretLen)
	}
	derive := func(label string, n int) []byte {
		b, err := hkdf.Key(sha256.New, secret, nil, "parley/v1/"+label, n)
		if err != nil {
			panic(err) // only fails for absurd lengths
		}
		return b
	}
	var k groupKeys
	copy(k.id[:], derive("group-id", store.GroupIDLen))
	k.topic = "/parley/1/g/" + hex.EncodeToString(derive("topic", 20))
	k.msgKey = derive("message-key", chacha20poly1305.KeySize)
	k.syncKey = derive("sync-key", 32)
	return k, nil
}

func newSecret() []byte {
	s := make([]byte, SecretLen)
	if _, err := rand.Read(s); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s
}

func (k *groupKeys) seal(plain []byte) (nonce, ct []byte) {
	aead, err := chacha20poly1305.NewX(k.msgKey)
	if err != nil {
		panic(err)
	}
	nonce = make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return nonce, aead.Seal(nil, nonce, plain, k.envelopeAD())
}

func (k *groupKeys) open(nonce, ct []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(k.msgKey)
	if err != nil {
		return nil, err
	}
	if len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, ErrMalformed
	}
	return aead.Open(nil, nonce, ct, k.envelopeAD())
}

// envelopeAD binds a ciphertext to its wire version and group.
func (k *groupKeys) envelopeAD() []byte {
	return append([]byte("parley/env/v1"), k.id[:]...)
}

// syncProof is the HMAC that shows a sync peer holds the group secret,
// bound to both peers and a fresh nonce so it cannot be replayed.
func (k *groupKeys) syncProof(role string, requester, responder, nonce []byte) []byte {
	m := hmac.New(sha256.New, k.syncKey)
	m.Write([]byte("parley/sync/v1/" + role))
	for _, b := range [][]byte{requester, responder, nonce} {
		var l [2]byte
		l[0], l[1] = byte(len(b)>>8), byte(len(b))
		m.Write(l[:])
		m.Write(b)
	}
	return m.Sum(nil)
}
