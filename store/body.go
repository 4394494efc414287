package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Message bodies and Badger's value log.
//
// A value of valueLogFrom bytes or more is kept in Badger's value log, not
// in the LSM tree: the tree holds a 12-byte pointer to it. Compactions
// rewrite every key and inline value they merge, level after level, so a
// body kept inline was written some ten times over; in the value log it is
// written once. A 1M-message catch-up took 34 s with bodies inline and
// 24 s with them in the log (docs/bench-2026-12-05/s13-findings.md).
//
// The value log cannot drop one value: Erase (erase.go) purges every copy of
// a key from the tree's files with DropPrefix, which leaves the log alone.
// So a body long enough to reach the log is sealed before it is stored, with
// a key of its own kept inline in the tree (crypto-shredding):
//
//	m/<gid><lamport><id> -> 0x00 flags AEAD(key, s2(raw) or raw)   (value log)
//	M/<gid><lamport><id> -> key:32                                 (inline)
//
// Erasing the body purges the M/ key like the m/ key; what is left in the
// value log can no longer be opened. A raw body never starts with 0x00 (it
// is a protobuf message, whose first byte names a field, and validate
// refuses it), so the first byte tells a sealed body from one stored raw:
// short bodies, and every body a store wrote before schema 7.
//
// The key is random and seals one value once, so the nonce is zero. The
// m/ key is the associated data: a sealed value moved to another message's
// key does not open. Bodies are compressed (S2) before sealing when that
// makes them shorter, since the value log, unlike the tables, is not
// compressed.
const (
	valueLogFrom  = 256
	sealedTag     = 0x00
	sealedS2      = 0x01 // flag: the plaintext is S2-compressed
	sealedHeader  = 2
	sealOverhead  = sealedHeader + chacha20poly1305.Overhead
	bodyKeyPrefix = 'M'
	// valueLogFileSize: Badger maps the value log file it writes at twice
	// this, and the space guard allocates that much ahead.
	valueLogFileSize = 16 << 20
)

// sealBody returns the m/ value for raw stored at m/ key mk, and the key
// to keep at M/ (nil: stored raw).
func sealBody(mk, raw []byte) (value, bodyKey []byte, err error) {
	if len(raw) < valueLogFrom {
		return raw, nil, nil
	}
	bodyKey = make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(bodyKey); err != nil {
		return nil, nil, err
	}
	aead, err := chacha20poly1305.New(bodyKey)
	if err != nil {
		return nil, nil, err
	}
	plain, flags := raw, byte(0)
	if c := s2.Encode(nil, raw); len(c) < len(raw) {
		plain, flags = c, sealedS2
	}
	value = make([]byte, sealedHeader, sealedHeader+len(plain)+chacha20poly1305.Overhead)
	value[0], value[1] = sealedTag, flags
	var nonce [chacha20poly1305.NonceSize]byte
	value = aead.Seal(value, nonce[:], plain, sealedAD(mk, value[:sealedHeader]))
	return value, bodyKey, nil
}

// sealedAD binds a sealed value to its key and header.
func sealedAD(mk, header []byte) []byte {
	return append(append(make([]byte, 0, len(mk)+len(header)), mk...), header...)
}

// bodyKeyOf is the M/ key of m/ key mk.
func bodyKeyOf(mk []byte) []byte {
	k := append([]byte(nil), mk...)
	k[0] = bodyKeyPrefix
	return k
}

// isSealed reports whether an m/ value is a sealed body.
func isSealed(v []byte) bool { return len(v) > 0 && v[0] == sealedTag }

// bodyKeys finds sealed bodies' keys (M/) for one transaction: by a point
// lookup each, or, for a forward scan of m/ keys in a read-only
// transaction, with a second iterator that walks M/ in step (a point lookup
// searches every level; serving a long sync spent a fifth of its CPU so).
type bodyKeys struct {
	txn    *badger.Txn
	prefix []byte // the M/ prefix walked in step; nil: point lookups
	it     *badger.Iterator
}

func pointKeys(txn *badger.Txn) *bodyKeys { return &bodyKeys{txn: txn} }

// walkKeys is for a read-only transaction scanning m/ keys under mPrefix
// forward (Badger allows one iterator at a time in a read-write one).
func walkKeys(txn *badger.Txn, mPrefix []byte) *bodyKeys {
	return &bodyKeys{txn: txn, prefix: bodyKeyOf(mPrefix)}
}

func (b *bodyKeys) close() {
	if b.it != nil {
		b.it.Close()
	}
}

// get returns the key of the body at m/ key mk.
func (b *bodyKeys) get(mk []byte) ([]byte, error) {
	want := bodyKeyOf(mk)
	if b.prefix == nil {
		item, err := b.txn.Get(want)
		if err != nil {
			return nil, err
		}
		return item.ValueCopy(nil)
	}
	if b.it == nil { // created on the first sealed body: older stores hold none
		b.it = b.txn.NewIterator(badger.IteratorOptions{Prefix: b.prefix})
		b.it.Seek(want)
	}
	for n := 0; b.it.Valid() && bytes.Compare(b.it.Item().Key(), want) < 0; n++ {
		if n == 8 { // far behind (bodies stored raw in between): jump
			b.it.Seek(want)
			break
		}
		b.it.Next()
	}
	if !b.it.Valid() || !bytes.Equal(b.it.Item().Key(), want) {
		return nil, badger.ErrKeyNotFound
	}
	return b.it.Item().ValueCopy(nil)
}

// openBody returns the raw body of m/ value v stored at mk (v itself
// unless sealed), with its key from keys.
func openBody(keys *bodyKeys, mk, v []byte) ([]byte, error) {
	if !isSealed(v) {
		return v, nil
	}
	if len(v) < sealOverhead {
		return nil, fmt.Errorf("store: corrupt sealed body at %x: %d bytes", mk, len(v))
	}
	k, err := keys.get(mk)
	if err != nil {
		return nil, fmt.Errorf("store: sealed body at %x without its key: %w", mk, err)
	}
	raw, err := unseal(k, mk, v)
	if err != nil {
		return nil, fmt.Errorf("store: corrupt sealed body at %x: %w", mk, err)
	}
	return raw, nil
}

// unseal opens sealed value v of m/ key mk with key k.
func unseal(k, mk, v []byte) ([]byte, error) {
	aead, err := chacha20poly1305.New(k)
	if err != nil {
		return nil, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	plain, err := aead.Open(nil, nonce[:], v[sealedHeader:], sealedAD(mk, v[:sealedHeader]))
	if err != nil {
		return nil, err
	}
	if v[1]&sealedS2 == 0 {
		return plain, nil
	}
	// Bounded: a damaged file must not make us allocate without limit.
	if n, err := s2.DecodedLen(plain); err != nil || n > maxRawLen {
		return nil, fmt.Errorf("compressed body of %d bytes (%v)", n, err)
	}
	return s2.Decode(nil, plain)
}

// readBody reads the body of m/ item: raw bytes, or erased.
func readBody(keys *bodyKeys, item *badger.Item) (raw []byte, erased bool, err error) {
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, err
	}
	if isErased(v) {
		return nil, true, nil
	}
	raw, err = openBody(keys, item.Key(), v)
	return raw, false, err
}

// BodyKey returns the key message id of g is sealed with (body.go), or nil
// when its body is stored raw or erased. Tests and audits use it to check
// on the files that an erased body's key is gone.
func (s *Store) BodyKey(g GroupID, id MessageID) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		lam, err := getU64(txn, key('i', g[:], id[:]))
		if err != nil {
			return err
		}
		item, err := txn.Get(bodyKeyOf(key('m', g[:], u64(lam), id[:])))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	return out, err
}

// The value log is never rewritten in place: an erased body, and any other
// value of valueLogFrom bytes or more that was overwritten (a group
// record, a large head set), leaves dead bytes in its file. Badger
// rewrites a file whose dead share passes valueLogGCRatio (moving the live
// values, still sealed, to the file being written) and deletes it.
const (
	valueLogGCEvery = 10 * time.Minute
	valueLogGCRatio = 0.5
)

// valueLogGC reclaims the value log's dead bytes every interval, while
// there is room to write the moved values.
func (s *Store) valueLogGC(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.collectValueLog()
		case <-s.stop:
			return
		}
	}
}

// collectValueLog rewrites value log files until none is worth it.
func (s *Store) collectValueLog() {
	for range 16 { // bounded: one round never holds the store for long
		select {
		case <-s.stop:
			return
		default:
		}
		if s.space.check() != nil {
			return
		}
		s.dropGate.RLock() // not while an erase's DropPrefix blocks writes
		err := s.db.RunValueLogGC(valueLogGCRatio)
		s.dropGate.RUnlock()
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value log collection", "err", err)
			}
			return
		}
	}
}
