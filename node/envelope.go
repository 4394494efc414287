package node

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/chacha20poly1305"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Limits on what the node accepts; anything larger is refused unread.
const (
	WireVersion     = 1
	MaxEnvelopeSize = 64 << 10
	MaxTextLen      = 16 << 10
	MaxNameLen      = 128
	MaxParents      = 16
	// maxLamport keeps a hostile member from pushing the clock to overflow.
	maxLamport = 1 << 62
)

var signDomain = []byte("parley/msg/v1")

// verified is a message that passed every check: its fields decoded, its
// signature checked, its raw SignedMessage bytes kept for storage and sync.
type verified struct {
	id     store.MessageID
	author peer.ID
	msg    *wirepb.Message
	raw    []byte // SignedMessage bytes
}

func (v *verified) storeMessage(g store.GroupID) store.Message {
	parents := make([]store.MessageID, 0, len(v.msg.Parents))
	for _, p := range v.msg.Parents {
		var id store.MessageID
		copy(id[:], p)
		parents = append(parents, id)
	}
	return store.Message{
		Group: g, ID: v.id, Author: []byte(v.author), Seq: v.msg.Seq, Lamport: v.msg.Lamport,
		TimeMs: v.msg.TimestampMs, Parents: parents, Raw: v.raw,
	}
}

func messageID(msgBytes []byte) store.MessageID {
	h := sha256.New()
	h.Write([]byte("parley/id/v1"))
	h.Write(msgBytes)
	var id store.MessageID
	copy(id[:], h.Sum(nil))
	return id
}

// signMessage serialises and signs m, returning the SignedMessage bytes.
func signMessage(key crypto.PrivKey, m *wirepb.Message) (*verified, error) {
	msgBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(append(append([]byte{}, signDomain...), msgBytes...))
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(&wirepb.SignedMessage{Message: msgBytes, Signature: sig})
	if err != nil {
		return nil, err
	}
	author, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &verified{id: messageID(msgBytes), author: author, msg: m, raw: raw}, nil
}

// sealEnvelope encrypts SignedMessage bytes for the group's topic.
func sealEnvelope(k *groupKeys, raw []byte) ([]byte, error) {
	nonce, ct := k.seal(raw)
	return proto.Marshal(&wirepb.Envelope{Version: WireVersion, Nonce: nonce, Ciphertext: ct})
}

// openEnvelope checks size and schema, then decrypts: the cheap checks that
// stop a non-member's junk before any signature work.
func openEnvelope(k *groupKeys, data []byte) ([]byte, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, ErrOversized
	}
	var env wirepb.Envelope
	if err := proto.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.Version != WireVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrVersion, env.Version)
	}
	if len(env.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: nonce length %d", ErrMalformed, len(env.Nonce))
	}
	raw, err := k.open(env.Nonce, env.Ciphertext)
	if err != nil {
		return nil, ErrNotMember
	}
	return raw, nil
}

// verifySigned decodes SignedMessage bytes and checks every field and the
// signature. It is used for pubsub and sync input alike.
func verifySigned(g store.GroupID, raw []byte) (*verified, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, ErrOversized
	}
	sm, m, err := unmarshalSigned(raw)
	if err != nil {
		return nil, err
	}
	if m.Version != WireVersion {
		return nil, fmt.Errorf("%w: message version %d", ErrVersion, m.Version)
	}
	if string(m.GroupId) != string(g[:]) {
		return nil, ErrWrongGroup
	}
	if err := checkFields(m); err != nil {
		return nil, err
	}
	pub, err := crypto.UnmarshalPublicKey(m.Author)
	if err != nil || pub.Type() != crypto.Ed25519 {
		return nil, ErrBadAuthor
	}
	ok, err := pub.Verify(append(append([]byte{}, signDomain...), sm.Message...), sm.Signature)
	if err != nil || !ok {
		return nil, ErrBadSignature
	}
	author, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return nil, ErrBadAuthor
	}
	// Keep a clean re-encoding: unsigned extras in the wrapper are not
	// stored or served on.
	clean, err := proto.Marshal(&wirepb.SignedMessage{Message: sm.Message, Signature: sm.Signature})
	if err != nil {
		return nil, err
	}
	return &verified{id: messageID(sm.Message), author: author, msg: m, raw: clean}, nil
}

func checkFields(m *wirepb.Message) error {
	switch {
	case m.Seq == 0:
		return fmt.Errorf("%w: seq 0", ErrBadField)
	case m.Lamport == 0 || m.Lamport > maxLamport:
		return fmt.Errorf("%w: lamport %d", ErrBadField, m.Lamport)
	case len(m.Parents) > MaxParents:
		return fmt.Errorf("%w: %d parents", ErrBadField, len(m.Parents))
	case m.Body == nil:
		return fmt.Errorf("%w: no body", ErrBadField)
	}
	for _, p := range m.Parents {
		if len(p) != store.MessageIDLen {
			return fmt.Errorf("%w: parent id length %d", ErrBadField, len(p))
		}
	}
	switch b := m.Body.Kind.(type) {
	case *wirepb.Body_Text:
		if len(b.Text.Text) > MaxTextLen || !utf8.ValidString(b.Text.Text) {
			return fmt.Errorf("%w: text", ErrBadField)
		}
	case *wirepb.Body_Join:
		if len(b.Join.DisplayName) > MaxNameLen || !utf8.ValidString(b.Join.DisplayName) {
			return fmt.Errorf("%w: display name", ErrBadField)
		}
	default:
		// A body kind from a newer version: kept and shown as unsupported.
	}
	return nil
}

func unmarshalSigned(raw []byte) (*wirepb.SignedMessage, *wirepb.Message, error) {
	var sm wirepb.SignedMessage
	if err := proto.Unmarshal(raw, &sm); err != nil {
		return nil, nil, fmt.Errorf("%w: signed message: %v", ErrMalformed, err)
	}
	var m wirepb.Message
	if err := proto.Unmarshal(sm.Message, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: message: %v", ErrMalformed, err)
	}
	return &sm, &m, nil
}

// authorIDs caches author key -> peer id: decoding a key and hashing it
// for every message read would dominate history paging.
var authorIDs sync.Map

func authorID(author []byte) (peer.ID, error) {
	if id, ok := authorIDs.Load(string(author)); ok {
		return id.(peer.ID), nil
	}
	pub, err := crypto.UnmarshalPublicKey(author)
	if err != nil || pub.Type() != crypto.Ed25519 {
		return "", ErrBadAuthor
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "", ErrBadAuthor
	}
	authorIDs.Store(string(author), id)
	return id, nil
}
