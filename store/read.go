package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	badger "github.com/dgraph-io/badger/v4"
)

// Cursor is a position in a group's history: (lamport, id) order.
type Cursor struct {
	Lamport uint64
	ID      MessageID
}

// History returns up to limit messages of group g in display order, ending
// just before the cursor (nil: the newest). Results are oldest first.
func (s *Store) History(g GroupID, before *Cursor, limit int) ([]Stored, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []Stored
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := key('m', g[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true, PrefetchValues: true, PrefetchSize: min(limit, 100)})
		defer it.Close()
		var seek []byte
		if before != nil {
			// Reverse iteration lands on the greatest key <= seek; the cursor
			// itself is excluded below.
			seek = key('m', g[:], u64(before.Lamport), before.ID[:])
		} else {
			seek = append(key('m', g[:]), bytes.Repeat([]byte{0xff}, 8+MessageIDLen)...)
		}
		for it.Seek(seek); it.Valid() && len(out) < limit; it.Next() {
			st, err := decodeHistoryItem(it.Item())
			if err != nil {
				return err
			}
			if before != nil && st.Lamport == before.Lamport && st.ID == before.ID {
				continue
			}
			out = append(out, st)
		}
		return nil
	})
	// Oldest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// After calls fn for each message of g strictly after the cursor (nil: from
// the start), in display order, until fn returns false.
func (s *Store) After(g GroupID, after *Cursor, fn func(Stored) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := key('m', g[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		seek := prefix
		if after != nil {
			seek = key('m', g[:], u64(after.Lamport), after.ID[:])
		}
		for it.Seek(seek); it.Valid(); it.Next() {
			st, err := decodeHistoryItem(it.Item())
			if err != nil {
				return err
			}
			if after != nil && st.Lamport == after.Lamport && st.ID == after.ID {
				continue
			}
			if !fn(st) {
				return nil
			}
		}
		return nil
	})
}

func decodeHistoryItem(item *badger.Item) (Stored, error) {
	k := item.Key()
	if len(k) != 2+GroupIDLen+8+MessageIDLen {
		return Stored{}, fmt.Errorf("store: corrupt history key %x", k)
	}
	var st Stored
	st.Lamport = binary.BigEndian.Uint64(k[2+GroupIDLen:])
	copy(st.ID[:], k[2+GroupIDLen+8:])
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return Stored{}, err
	}
	if isErased(raw) {
		st.Erased = true
		return st, nil
	}
	st.Raw = raw
	return st, nil
}

// Get returns one message by id.
func (s *Store) Get(g GroupID, id MessageID) (Stored, error) {
	var st Stored
	err := s.db.View(func(txn *badger.Txn) error {
		lam, err := getU64(txn, key('i', g[:], id[:]))
		if err != nil {
			return err
		}
		item, err := txn.Get(key('m', g[:], u64(lam), id[:]))
		if err != nil {
			return err
		}
		st, err = decodeHistoryItem(item)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Stored{}, ErrNotFound
	}
	return st, err
}

// Has reports whether message id of group g is stored.
func (s *Store) Has(g GroupID, id MessageID) (bool, error) {
	if !s.ids.Load().mayContain(g, id) {
		return false, nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key('i', g[:], id[:]))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func getU64(txn *badger.Txn, k []byte) (uint64, error) {
	item, err := txn.Get(k)
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) < 8 {
			return fmt.Errorf("store: corrupt value under %q", k[:1])
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

// Stats are a group's message count and highest Lamport clock.
type Stats struct {
	Count      uint64
	MaxLamport uint64
}

// GroupStats returns g's counters.
func (s *Store) GroupStats(g GroupID) (Stats, error) {
	if st, ok := s.stats.get(g); ok {
		return st, nil
	}
	var st Stats
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('n', g[:]))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) == 16 {
				st.Count = binary.BigEndian.Uint64(v)
				st.MaxLamport = binary.BigEndian.Uint64(v[8:])
			}
			return nil
		})
	})
	return st, err
}

// idSet lists the ids under one per-group marker prefix (heads or gaps).
func (s *Store) idSet(prefix byte, g GroupID, limit int) ([]MessageID, error) {
	var out []MessageID
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key(prefix, g[:])})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) != 2+GroupIDLen+MessageIDLen {
				continue
			}
			var id MessageID
			copy(id[:], k[2+GroupIDLen:])
			out = append(out, id)
		}
		return nil
	})
	return out, err
}

// Heads returns up to limit messages of g that no held message names as parent.
// The newest heads come first.
func (s *Store) Heads(g GroupID, limit int) ([]MessageID, error) {
	ids, cached := s.committed.headsOf(g)
	var err error
	if !cached {
		ids, err = s.heads(g)
	}
	if err != nil {
		return nil, err
	}
	out := make([]MessageID, 0, min(max(limit, 0), len(ids)))
	for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, ids[i])
	}
	return out, nil
}

// heads reads g's heads from Badger, oldest first.
func (s *Store) heads(g GroupID) ([]MessageID, error) {
	var ids []MessageID
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('H', g[:]))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { ids = decodeHeads(v); return nil })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	return ids, err
}

// Missing returns up to limit ids that held messages name as parents but
// that are not held: the gaps sync must fill.
func (s *Store) Missing(g GroupID, limit int) ([]MessageID, error) { return s.idSet('w', g, limit) }

// Vector returns, for every author seen in g, the highest seq up to which all
// of that author's messages are held.
func (s *Store) Vector(g GroupID) ([]AuthorSeq, error) {
	ranges, err := s.VectorRanges(g)
	if err != nil {
		return nil, err
	}
	out := make([]AuthorSeq, len(ranges))
	for i, r := range ranges {
		out[i] = AuthorSeq{Author: r.Author, Seq: r.Have}
	}
	return out, nil
}

// AuthorIndexEntry is one message in an author's sequence.
type AuthorIndexEntry struct {
	Seq     uint64
	ID      MessageID
	Lamport uint64
	TimeMs  int64
}

// AuthorAfter calls fn for each message of author in g with seq > after, in
// seq order, until fn returns false.
func (s *Store) AuthorAfter(g GroupID, author []byte, after uint64, fn func(AuthorIndexEntry) bool) error {
	if len(author) == 0 || len(author) > maxAuthorLen {
		return fmt.Errorf("%w: author length %d", ErrInvalid, len(author))
	}
	if after == math.MaxUint64 {
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		ak := authorKey(author)
		prefix := key('a', g[:], ak)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Seek(key('a', g[:], ak, u64(after+1))); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			if len(k) != 8+MessageIDLen {
				return fmt.Errorf("store: corrupt author key")
			}
			e := AuthorIndexEntry{Seq: binary.BigEndian.Uint64(k)}
			copy(e.ID[:], k[8:])
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != 16 {
					return fmt.Errorf("store: corrupt author value")
				}
				e.Lamport = binary.BigEndian.Uint64(v)
				e.TimeMs = int64(binary.BigEndian.Uint64(v[8:]))
				return nil
			}); err != nil {
				return err
			}
			if !fn(e) {
				return nil
			}
		}
		return nil
	})
}

// GetAt returns the raw message at a known (lamport, id) position.
func (s *Store) GetAt(g GroupID, lamport uint64, id MessageID) (Stored, error) {
	var st Stored
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('m', g[:], u64(lamport), id[:]))
		if err != nil {
			return err
		}
		st, err = decodeHistoryItem(item)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Stored{}, ErrNotFound
	}
	return st, err
}

// Lamport returns the Lamport clock of a held message; ok is false if it is not held.
func (s *Store) Lamport(g GroupID, id MessageID) (lamport uint64, ok bool, err error) {
	if lam, ok := s.recent.lamport(g, id); ok {
		return lam, true, nil
	}
	if !s.ids.Load().mayContain(g, id) {
		return 0, false, nil
	}
	err = s.db.View(func(txn *badger.Txn) error {
		lamport, err = getU64(txn, key('i', g[:], id[:]))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	return lamport, err == nil, err
}
