package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Per-author sequence facts for sync and the equivocation check, and the
// evidence of equivocations. Key added by this file (see doc.go for the rest):
//
//	E/<gid><alen:1><author><seq:8>  -> first id:32, second raw   equivocation evidence

// AuthorRange is an author's contiguous prefix (Have) and highest seq held (Max).
type AuthorRange struct {
	Author    []byte
	Have, Max uint64
}

// VectorRanges is Vector with each author's highest held seq as well.
func (s *Store) VectorRanges(g GroupID) ([]AuthorRange, error) {
	var out []AuthorRange
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := key('v', g[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			if len(k) < 1 || int(k[0]) != len(k)-1 {
				return fmt.Errorf("store: corrupt vector key")
			}
			r := AuthorRange{Author: append([]byte(nil), k[1:]...)}
			if err := it.Item().Value(func(v []byte) error {
				r.Have, r.Max = decodeVector(v)
				return nil
			}); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

func decodeVector(v []byte) (have, maxSeq uint64) {
	if len(v) >= 8 {
		have = binary.BigEndian.Uint64(v)
		maxSeq = have
	}
	if len(v) >= 16 {
		maxSeq = binary.BigEndian.Uint64(v[8:])
	}
	return have, maxSeq
}

// AtSeq returns the id of a held message of author at seq in g (the first,
// should an older store hold two). A seq above the author's highest held
// costs one key lookup: the common case of a new message.
func (s *Store) AtSeq(g GroupID, author []byte, seq uint64) (id MessageID, ok bool, err error) {
	if len(author) == 0 || len(author) > maxAuthorLen {
		return id, false, fmt.Errorf("%w: author length %d", ErrInvalid, len(author))
	}
	ak := authorKey(author)
	vk := key('v', g[:], ak)
	if _, held, ok := s.committed.vector(string(vk)); ok && seq > held {
		return id, false, nil
	}
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(vk)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var maxSeq uint64
		if err := item.Value(func(v []byte) error { _, maxSeq = decodeVector(v); return nil }); err != nil {
			return err
		}
		if seq > maxSeq {
			return nil
		}
		prefix := key('a', g[:], ak, u64(seq))
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		it.Rewind()
		if it.Valid() {
			k := it.Item().Key()[len(prefix):]
			if len(k) != MessageIDLen {
				return fmt.Errorf("store: corrupt author key")
			}
			copy(id[:], k)
			ok = true
		}
		return nil
	})
	return id, ok, err
}

// Equivocation is evidence that an author signed two messages with one seq:
// the one held (First) and the one refused (Second, its raw bytes).
type Equivocation struct {
	Author []byte
	Seq    uint64
	First  MessageID
	Second []byte
}

// maxEvidence bounds the raw bytes kept per record.
const maxEvidence = 64 << 10

// PutEquivocation records evidence; one record per author and seq (the
// first kept).
func (s *Store) PutEquivocation(g GroupID, e Equivocation) error {
	if len(e.Author) == 0 || len(e.Author) > maxAuthorLen || len(e.Second) > maxEvidence {
		return fmt.Errorf("%w: equivocation record", ErrInvalid)
	}
	k := key('E', g[:], authorKey(e.Author), u64(e.Seq))
	return s.update(func(txn *badger.Txn) error {
		if _, err := txn.Get(k); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(k, append(append([]byte(nil), e.First[:]...), e.Second...))
	})
}

// Equivocations lists the evidence recorded for g.
func (s *Store) Equivocations(g GroupID) ([]Equivocation, error) {
	var out []Equivocation
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := key('E', g[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			if len(k) < 1 || int(k[0])+1+8 != len(k) {
				return fmt.Errorf("store: corrupt evidence key")
			}
			e := Equivocation{Author: append([]byte(nil), k[1:1+int(k[0])]...), Seq: binary.BigEndian.Uint64(k[1+int(k[0]):])}
			if err := it.Item().Value(func(v []byte) error {
				if len(v) < MessageIDLen {
					return fmt.Errorf("store: corrupt evidence")
				}
				copy(e.First[:], v)
				e.Second = append([]byte(nil), v[MessageIDLen:]...)
				return nil
			}); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
