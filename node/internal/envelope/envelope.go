package envelope

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/chacha20poly1305"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/searchterms"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Limits on what the node accepts; anything larger is refused unread.
const (
	WireVersion = 1 // of Message, SignedMessage, Invite and the sync messages
	// EnvelopeVersion is the pubsub envelope's: 3 seals a Bundle under a
	// membership epoch's key (epoch.go).
	EnvelopeVersion = 3
	// LegacyEnvelopeVersion seals a Bundle under the group key: groups
	// created before membership (read only).
	LegacyEnvelopeVersion = 2
	MaxEnvelopeSize       = 64 << 10
	// MaxBundleMessages bounds the messages one envelope carries.
	MaxBundleMessages = MaxBatchLeaves
	MaxTextLen        = 16 << 10
	MaxNameLen        = 128
	MaxParents        = 16
	// MaxLamport keeps a hostile member from pushing the clock to overflow.
	MaxLamport = 1 << 62
)

// Reasons a message is refused. The node counts each (Status.Drops).
var (
	ErrOversized    = errors.New("oversized")
	ErrMalformed    = errors.New("malformed")
	ErrVersion      = errors.New("unsupported version")
	ErrNotMember    = errors.New("not a member: cannot decrypt")
	ErrWrongGroup   = errors.New("message belongs to another group")
	ErrBadSignature = errors.New("bad signature")
	ErrBadAuthor    = errors.New("unsupported author key")
	ErrBadField     = errors.New("field out of range")
	// ErrInvalidInput is a caller's mistake (a bad secret or batch size).
	ErrInvalidInput = errors.New("invalid input")
)

var signDomain = []byte("parley/msg/v1")

// Verified is a message that passed every check: its fields decoded, its
// signature checked, its raw SignedMessage bytes kept for storage and sync.
type Verified struct {
	ID     store.MessageID
	Author peer.ID
	Msg    *wirepb.Message
	Raw    []byte // SignedMessage bytes
}

// StoreMessage is v as the store keeps it in group g, with its search terms.
func (v *Verified) StoreMessage(g store.GroupID) store.Message {
	m := v.storeMessage(g)
	m.Terms, m.TermsOf = searchterms.ForBody(v.Msg.Body) // the search index, written with the message
	return m
}

// StoreMessageIndexLater is v as the store keeps it, its search postings
// left for store.IndexDeferred (a kind with no words gets none at all).
func (v *Verified) StoreMessageIndexLater(g store.GroupID) store.Message {
	m := v.storeMessage(g)
	m.IndexLater = searchterms.Indexed(v.Msg.Body)
	return m
}

func (v *Verified) storeMessage(g store.GroupID) store.Message {
	parents := make([]store.MessageID, 0, len(v.Msg.Parents))
	for _, p := range v.Msg.Parents {
		var id store.MessageID
		copy(id[:], p)
		parents = append(parents, id)
	}
	m := store.Message{
		Group: g, ID: v.ID, Author: []byte(v.Author), Seq: v.Msg.Seq, Lamport: v.Msg.Lamport,
		TimeMs: v.Msg.TimestampMs, Parents: parents, Targets: Targets(v.Msg.Body), Raw: v.Raw,
	}
	return m
}

// MessageID is the id of a serialised Message: a domain-separated SHA-256.
func MessageID(msgBytes []byte) store.MessageID {
	h := sha256.New()
	h.Write([]byte("parley/id/v1"))
	h.Write(msgBytes)
	var id store.MessageID
	copy(id[:], h.Sum(nil))
	return id
}

// SignMessage serialises and signs m, returning the SignedMessage bytes.
func SignMessage(key crypto.PrivKey, m *wirepb.Message) (*Verified, error) {
	vs, err := SignBatch(key, []*wirepb.Message{m})
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// SignBatch serialises ms and signs them with one signature over the Merkle
// root of their ids; a single message gets a plain signature.
func SignBatch(key crypto.PrivKey, ms []*wirepb.Message) ([]*Verified, error) {
	bodies := make([][]byte, len(ms))
	ids := make([]store.MessageID, len(ms))
	for i, m := range ms {
		var err error
		if bodies[i], err = MarshalMessage(m); err != nil {
			return nil, err
		}
		ids[i] = MessageID(bodies[i])
	}
	return SignBodies(key, ms, bodies, ids)
}

// MarshalMessage is the one encoding of a Message that is hashed and signed.
func MarshalMessage(m *wirepb.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// SignBodies signs messages already serialised (bodies) with their ids, for
// a sender that needed the ids before signing (to chain the messages).
func SignBodies(key crypto.PrivKey, ms []*wirepb.Message, bodies [][]byte, ids []store.MessageID) ([]*Verified, error) {
	if len(ms) == 0 || len(ms) > MaxBatchLeaves {
		return nil, fmt.Errorf("%w: batch of %d", ErrInvalidInput, len(ms))
	}
	author, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if len(ms) == 1 {
		sig, err := key.Sign(append(append([]byte{}, signDomain...), bodies[0]...))
		if err != nil {
			return nil, err
		}
		raw, err := proto.Marshal(&wirepb.SignedMessage{Message: bodies[0], Signature: sig})
		if err != nil {
			return nil, err
		}
		return []*Verified{{ID: ids[0], Author: author, Msg: ms[0], Raw: raw}}, nil
	}
	root, paths := MerkleProofs(ids)
	count := uint32(len(ms))
	sig, err := key.Sign(BatchSigned(count, root))
	if err != nil {
		return nil, err
	}
	out := make([]*Verified, len(ms))
	for i, m := range ms {
		raw, err := proto.Marshal(&wirepb.SignedMessage{Message: bodies[i], Signature: sig,
			Batch: &wirepb.BatchProof{Count: count, Index: uint32(i), Path: paths[i]}})
		if err != nil {
			return nil, err
		}
		out[i] = &Verified{ID: ids[i], Author: author, Msg: m, Raw: raw}
	}
	return out, nil
}

// SealEnvelope encrypts SignedMessages (at most MaxBundleMessages) as one
// Bundle for the group's topic.
func SealEnvelope(k *GroupKeys, raws ...[]byte) ([]byte, error) {
	plain, err := proto.Marshal(&wirepb.Bundle{Messages: raws})
	if err != nil {
		return nil, err
	}
	nonce, ct := k.seal(plain)
	return proto.Marshal(&wirepb.Envelope{Version: LegacyEnvelopeVersion, Nonce: nonce, Ciphertext: ct})
}

// Bundles packs raws, in order, into as few envelopes' worth as the size
// and count bounds allow: a bundle padded (PadBundle) still fits the
// largest bucket, so every envelope has one of the bucket sizes.
func Bundles(raws [][]byte) [][][]byte {
	var out [][][]byte
	var cur [][]byte
	size := 0
	for _, r := range raws {
		n := len(r) + 4 // tag and length of the repeated field
		if len(cur) > 0 && (len(cur) == MaxBundleMessages || size+n > maxPadBucket-3) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, r)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// OpenEnvelope checks size and schema, then decrypts: the cheap checks that
// stop a non-member's junk before any signature work. It returns the
// bundle's SignedMessage bytes, not yet checked.
func OpenEnvelope(k *GroupKeys, data []byte) ([][]byte, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, ErrOversized
	}
	var env wirepb.Envelope
	if err := proto.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.Version != LegacyEnvelopeVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrVersion, env.Version)
	}
	if len(env.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: nonce length %d", ErrMalformed, len(env.Nonce))
	}
	plain, err := k.open(env.Nonce, env.Ciphertext)
	if err != nil {
		return nil, ErrNotMember
	}
	return decodeBundle(plain)
}

// Verifier checks signed messages for one node, remembering the batch
// signatures it has checked (sigCache). Safe for concurrent use.
type Verifier struct{ batches *sigCache }

// NewVerifier returns a Verifier with an empty cache.
func NewVerifier() *Verifier { return &Verifier{batches: newSigCache()} }

// VerifySigned checks raw with a Verifier of its own (no cache shared with
// any other call): tools and tests.
func VerifySigned(g store.GroupID, raw []byte) (*Verified, error) {
	return NewVerifier().Signed(g, raw)
}

// Signed decodes SignedMessage bytes and checks every field and the
// signature. It checks a gossiped envelope of one message; sync pages and
// envelopes of several (a bulk sender's held batches) use Many.
func (v *Verifier) Signed(g store.GroupID, raw []byte) (*Verified, error) {
	p, err := prepare(g, raw)
	if err != nil {
		return nil, err
	}
	if p.cacheKey == "" || !v.batches.has(p.cacheKey) {
		if err := p.checkSignature(); err != nil {
			return nil, err
		}
		if p.cacheKey != "" {
			v.batches.add(p.cacheKey)
		}
	}
	return p.finish()
}

// pending is a message whose fields checked out and whose signature is
// still to check: prepare does the cheap part, checkSignature the
// Ed25519 verification, finish builds the Verified.
type pending struct {
	raw      []byte
	sm       *wirepb.SignedMessage
	m        *wirepb.Message
	id       store.MessageID
	signed   []byte // what the signature covers
	cacheKey string // batch signatures only: the sigCache key
}

func prepare(g store.GroupID, raw []byte) (*pending, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, ErrOversized
	}
	sm, m, err := UnmarshalSigned(raw)
	if err != nil {
		return nil, err
	}
	if m.Version != WireVersion {
		return nil, fmt.Errorf("%w: message version %d", ErrVersion, m.Version)
	}
	if string(m.GroupId) != string(g[:]) {
		return nil, ErrWrongGroup
	}
	if err := CheckFields(m); err != nil {
		return nil, err
	}
	p := &pending{raw: raw, sm: sm, m: m, id: MessageID(sm.Message)}
	if b := sm.Batch; b == nil {
		p.signed = SingleSigned(sm.Message)
	} else {
		root, ok := MerkleRoot(p.id, b.Index, b.Count, b.Path)
		if !ok {
			return nil, fmt.Errorf("%w: batch proof", ErrMalformed)
		}
		p.signed = BatchSigned(b.Count, root)
		p.cacheKey = sigCacheKey(m.Author, b.Count, root, sm.Signature)
	}
	return p, nil
}

// checkSignature verifies the Ed25519 signature. The author's key is
// parsed only here: a batch whose signature is already verified does
// without.
func (p *pending) checkSignature() error {
	pub, err := authorKey(p.m.Author)
	if err != nil {
		return err
	}
	if ok, err := pub.Verify(p.signed, p.sm.Signature); err != nil || !ok {
		return ErrBadSignature
	}
	return nil
}

func (p *pending) finish() (*Verified, error) {
	author, err := AuthorID(p.m.Author)
	if err != nil {
		return nil, ErrBadAuthor
	}
	// Keep a clean re-encoding: unsigned extras in the wrapper are not
	// stored or served on.
	cleanRaw := p.raw
	if !isClean(p.sm, p.raw) {
		clean := &wirepb.SignedMessage{Message: p.sm.Message, Signature: p.sm.Signature}
		if b := p.sm.Batch; b != nil {
			clean.Batch = &wirepb.BatchProof{Count: b.Count, Index: b.Index, Path: b.Path}
		}
		if cleanRaw, err = proto.Marshal(clean); err != nil {
			return nil, err
		}
	}
	return &Verified{ID: p.id, Author: author, Msg: p.m, Raw: cleanRaw}, nil
}

// isClean reports whether raw, the encoding sm was decoded from, carries
// nothing beyond sm's known fields: no unknown fields, and no bytes the
// canonical size does not account for (a repeated or padded field).
// Re-encoding such input would give back what it already is.
func isClean(sm *wirepb.SignedMessage, raw []byte) bool {
	if len(sm.ProtoReflect().GetUnknown()) > 0 {
		return false
	}
	if sm.Batch != nil && len(sm.Batch.ProtoReflect().GetUnknown()) > 0 {
		return false
	}
	return proto.Size(sm) == len(raw)
}

// CheckFields checks a message's fields against the wire bounds.
func CheckFields(m *wirepb.Message) error {
	switch {
	case m.Seq == 0:
		return fmt.Errorf("%w: seq 0", ErrBadField)
	case m.Lamport == 0 || m.Lamport > MaxLamport:
		return fmt.Errorf("%w: lamport %d", ErrBadField, m.Lamport)
	case len(m.Parents) > MaxParents:
		return fmt.Errorf("%w: %d parents", ErrBadField, len(m.Parents))
	case m.Body == nil:
		return fmt.Errorf("%w: no body", ErrBadField)
	case len(m.Epoch) != 0 && len(m.Epoch) != EpochIDLen:
		return fmt.Errorf("%w: epoch id length %d", ErrBadField, len(m.Epoch))
	case len(m.Prev) != 0 && len(m.Prev) != store.MessageIDLen:
		return fmt.Errorf("%w: prev id length %d", ErrBadField, len(m.Prev))
	case len(m.Prev) != 0 && m.Seq == 1:
		return fmt.Errorf("%w: prev at seq 1", ErrBadField)
	}
	for _, p := range m.Parents {
		if len(p) != store.MessageIDLen {
			return fmt.Errorf("%w: parent id length %d", ErrBadField, len(p))
		}
	}
	switch b := m.Body.Kind.(type) {
	case *wirepb.Body_Join:
		if len(b.Join.DisplayName) > MaxNameLen || !utf8.ValidString(b.Join.DisplayName) {
			return fmt.Errorf("%w: display name", ErrBadField)
		}
	case *wirepb.Body_Membership:
		if len(b.Membership.Op) == 0 {
			return fmt.Errorf("%w: empty membership op", ErrBadField)
		}
	default:
		// Text and the kinds that act on other messages (kinds.go); a kind
		// from a newer version is kept and shown as unsupported.
		return checkKind(m.Body)
	}
	return nil
}

// UnmarshalSigned decodes SignedMessage bytes and the Message inside.
func UnmarshalSigned(raw []byte) (*wirepb.SignedMessage, *wirepb.Message, error) {
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

// AuthorID is the peer id of an author key (Ed25519 only).
func AuthorID(author []byte) (peer.ID, error) {
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

// DecodeSigned decodes trusted (already verified, e.g. stored) SignedMessage
// bytes without checking them again.
func DecodeSigned(raw []byte) (*Verified, error) {
	sm, m, err := UnmarshalSigned(raw)
	if err != nil {
		return nil, err
	}
	pid, err := AuthorID(m.Author)
	if err != nil {
		return nil, err
	}
	return &Verified{ID: MessageID(sm.Message), Author: pid, Msg: m, Raw: raw}, nil
}

// SingleSigned is the byte string a single message's signature covers.
func SingleSigned(msgBytes []byte) []byte {
	return append(append([]byte{}, signDomain...), msgBytes...)
}
