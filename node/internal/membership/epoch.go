package membership

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// SecretLen is the size of an epoch secret.
const SecretLen = 32

// The HPKE suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
var (
	hpkeKEM  = hpke.DHKEM(ecdh.X25519())
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.ChaCha20Poly1305()
)

// NewHPKEKey generates a member's X25519 HPKE key pair. Its public half
// (HPKEPublic) goes into the member's add/join/create op; the private half
// stays on the member's node (PrivateKey.Bytes serialises it, ParseHPKEKey
// reads it back).
func NewHPKEKey() (hpke.PrivateKey, error) { return hpkeKEM.GenerateKey() }

// ParseHPKEKey reads a private key serialised with PrivateKey.Bytes.
func ParseHPKEKey(b []byte) (hpke.PrivateKey, error) { return hpkeKEM.NewPrivateKey(b) }

// HPKEPublic returns the 32-byte public key of k, as carried in ops.
func HPKEPublic(k hpke.PrivateKey) []byte { return k.PublicKey().Bytes() }

// NewEpochSecret returns a fresh random epoch secret.
func NewEpochSecret() []byte {
	s := make([]byte, SecretLen)
	if _, err := rand.Read(s); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s
}

// keyCommit is a public commitment to an epoch secret, carried by the op that
// starts the epoch, so a member who opens a sealed copy can tell that it got
// the same secret as everyone else.
func keyCommit(secret []byte) [32]byte {
	b, err := hkdf.Key(sha256.New, secret, nil, "parley/membership/epoch-commit/v1", 32)
	if err != nil {
		panic(err)
	}
	var c [32]byte
	copy(c[:], b)
	return c
}

// sealTo seals secret to one recipient. info binds it to the op carrying it
// (sealContext), aad to the recipient's identity.
func sealTo(recipient Key, hpkePub []byte, info, secret []byte) ([]byte, error) {
	pk, err := hpkeKEM.NewPublicKey(hpkePub)
	if err != nil {
		return nil, fmt.Errorf("%w: HPKE key of %s: %v", ErrInvalidArgument, recipient, err)
	}
	enc, s, err := hpke.NewSender(pk, hpkeKDF, hpkeAEAD, info)
	if err != nil {
		return nil, fmt.Errorf("%w: HPKE key of %s: %v", ErrInvalidArgument, recipient, err)
	}
	ct, err := s.Seal(recipient[:], secret)
	if err != nil {
		return nil, err
	}
	return append(enc, ct...), nil
}

func openSealed(priv hpke.PrivateKey, self Key, info, blob []byte) ([]byte, error) {
	const encLen = 32
	if len(blob) != sealedCTLen {
		return nil, ErrMalformed
	}
	r, err := hpke.NewRecipient(blob[:encLen], priv, hpkeKDF, hpkeAEAD, info)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
	}
	secret, err := r.Open(self[:], blob[encLen:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
	}
	return secret, nil
}

// sealAll fills o.Sealed with secret sealed to each recipient (sorted by key,
// as Validate requires). o's other fields must be final: the seal context
// covers them.
func (o *Op) sealAll(secret []byte, recipients []Member) error {
	info := o.sealContext()
	o.Sealed = o.Sealed[:0]
	for _, m := range sortedMembers(recipients) {
		ct, err := sealTo(m.Key, m.HPKE, info, secret)
		if err != nil {
			return err
		}
		o.Sealed = append(o.Sealed, Sealed{Recipient: m.Key, Ciphertext: ct})
	}
	return nil
}
