package envelope

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// EpochIDLen is the size of a key epoch's id (the membership op starting it).
const EpochIDLen = 32

// EpochKey is the envelope key of one membership key epoch:
// HKDF-SHA256(epoch secret, info "parley/v3/envelope-key"). Every member of
// the epoch derives it; a removed member never gets the next epoch's secret.
type EpochKey struct {
	Group store.GroupID
	Epoch [EpochIDLen]byte
	key   []byte
}

// DeriveEpochKey derives the envelope key of epoch in group from its secret.
func DeriveEpochKey(group store.GroupID, epoch [EpochIDLen]byte, secret []byte) (*EpochKey, error) {
	if len(secret) != SecretLen {
		return nil, fmt.Errorf("%w: epoch secret must be %d bytes", ErrInvalidInput, SecretLen)
	}
	k, err := hkdf.Key(sha256.New, secret, epoch[:], "parley/v3/envelope-key", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return &EpochKey{Group: group, Epoch: epoch, key: k}, nil
}

// ad binds a v3 ciphertext to its version, group and epoch.
func (k *EpochKey) ad() []byte {
	ad := append([]byte("parley/env/v3"), k.Group[:]...)
	return append(ad, k.Epoch[:]...)
}

// SealEpochEnvelope encrypts SignedMessages as one Bundle under an epoch key
// (envelope version 3, the epoch id in the clear so receivers pick the key).
func SealEpochEnvelope(k *EpochKey, raws ...[]byte) ([]byte, error) {
	plain, err := PadBundle(&wirepb.Bundle{Messages: raws})
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(k.key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return proto.Marshal(&wirepb.Envelope{Version: EnvelopeVersion, Nonce: nonce,
		Ciphertext: aead.Seal(nil, nonce, plain, k.ad()), Epoch: k.Epoch[:]})
}

// PeekEnvelope decodes an envelope's clear header: its version and, for
// version 3, its epoch id. The envelope is not opened.
func PeekEnvelope(data []byte) (*wirepb.Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, ErrOversized
	}
	var env wirepb.Envelope
	if err := proto.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	switch env.Version {
	case EnvelopeVersion:
		if len(env.Epoch) != EpochIDLen {
			return nil, fmt.Errorf("%w: epoch id length %d", ErrMalformed, len(env.Epoch))
		}
	case LegacyEnvelopeVersion:
	default:
		return nil, fmt.Errorf("%w: envelope version %d", ErrVersion, env.Version)
	}
	if len(env.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: nonce length %d", ErrMalformed, len(env.Nonce))
	}
	return &env, nil
}

// OpenEpochEnvelope decrypts a version 3 envelope (from PeekEnvelope) with
// its epoch's key and returns the bundle's SignedMessage bytes, not yet
// checked.
func OpenEpochEnvelope(k *EpochKey, env *wirepb.Envelope) ([][]byte, error) {
	if env.Version != EnvelopeVersion || string(env.Epoch) != string(k.Epoch[:]) {
		return nil, fmt.Errorf("%w: envelope of another epoch", ErrMalformed)
	}
	aead, err := chacha20poly1305.NewX(k.key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, env.Nonce, env.Ciphertext, k.ad())
	if err != nil {
		return nil, ErrNotMember
	}
	return decodeBundle(plain)
}

func decodeBundle(plain []byte) ([][]byte, error) {
	var b wirepb.Bundle
	if err := proto.Unmarshal(plain, &b); err != nil {
		return nil, fmt.Errorf("%w: bundle: %v", ErrMalformed, err)
	}
	if len(b.Messages) == 0 || len(b.Messages) > MaxBundleMessages {
		return nil, fmt.Errorf("%w: bundle of %d messages", ErrMalformed, len(b.Messages))
	}
	return b.Messages, nil
}
