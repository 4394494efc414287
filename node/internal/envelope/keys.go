package envelope

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/parley-chat/parley/store"
)

// SecretLen is the size of a group secret.
const SecretLen = 32

// GroupKeys are everything derived from one group secret (HKDF-SHA256, one
// label per use, so no key serves two purposes).
type GroupKeys struct {
	ID      store.GroupID // local and in-message group id
	Topic   string        // pubsub topic: reveals nothing about the name
	msgKey  []byte        // XChaCha20-Poly1305 key for envelopes
	syncKey []byte        // HMAC key proving membership to sync peers
}

// DeriveKeys derives a group's keys from its secret.
func DeriveKeys(secret []byte) (GroupKeys, error) {
	if len(secret) != SecretLen {
		return GroupKeys{}, fmt.Errorf("%w: group secret must be %d bytes", ErrInvalidInput, SecretLen)
	}
	derive := func(label string, n int) []byte {
		b, err := hkdf.Key(sha256.New, secret, nil, "parley/v1/"+label, n)
		if err != nil {
			panic(err) // only fails for absurd lengths
		}
		return b
	}
	var k GroupKeys
	copy(k.ID[:], derive("group-id", store.GroupIDLen))
	k.Topic = "/parley/1/g/" + hex.EncodeToString(derive("topic", 20))
	k.msgKey = derive("message-key", chacha20poly1305.KeySize)
	k.syncKey = derive("sync-key", 32)
	return k, nil
}

// NewSecret returns a fresh random group secret.
func NewSecret() []byte {
	s := make([]byte, SecretLen)
	if _, err := rand.Read(s); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s
}

func (k *GroupKeys) seal(plain []byte) (nonce, ct []byte) {
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

func (k *GroupKeys) open(nonce, ct []byte) ([]byte, error) {
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
func (k *GroupKeys) envelopeAD() []byte {
	return append([]byte("parley/env/v1"), k.ID[:]...)
}

// SyncProof is the HMAC that shows a sync peer holds the group secret,
// bound to both peers and a fresh nonce so it cannot be replayed.
func (k *GroupKeys) SyncProof(role string, requester, responder, nonce []byte) []byte {
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

// RendezvousEpoch is how long one rendezvous namespace lasts.
const RendezvousEpoch = 24 * time.Hour

// RendezvousEpochOf is the rendezvous epoch at t.
func RendezvousEpochOf(t time.Time) int64 { return t.Unix() / int64(RendezvousEpoch/time.Second) }

// RendezvousNS is the DHT rendezvous string for a group secret and epoch:
// only members can compute it, and one day's string does not reveal the
// next's (see package reach).
func RendezvousNS(secret []byte, epoch int64) string {
	k, err := hkdf.Key(sha256.New, secret, nil, fmt.Sprintf("parley/v1/rendezvous/%d", epoch), 32)
	if err != nil {
		panic(err)
	}
	return "parley-rdv/" + hex.EncodeToString(k)
}

// SealNonce encrypts plain under a chosen nonce (tests: deterministic
// envelopes, and envelopes the package never produces).
func (k *GroupKeys) SealNonce(nonce, plain []byte) []byte {
	aead, err := chacha20poly1305.NewX(k.msgKey)
	if err != nil {
		panic(err)
	}
	return aead.Seal(nil, nonce, plain, k.envelopeAD())
}

// Open decrypts an envelope's ciphertext.
func (k *GroupKeys) Open(nonce, ct []byte) ([]byte, error) { return k.open(nonce, ct) }
