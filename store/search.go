package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The search index. The store gives terms no meaning: the caller tokenizes.
//
//	x/<tlen:1><term><^time:8><gid:16><^lamport:8><id:32> -> shown id:32, or empty when shown = id
//	X/<gid:16><id:32>                                     -> time:8    (only for messages with terms)
//	Y/                                                    -> last m/ key indexed by Backfill
//
// A posting's suffix after the term (the document key, 64 bytes) sorts the
// newest first across all groups, so a query reads every term's postings in
// the same order and joins them by seeking (leapfrog): a two-word query
// stops as soon as it has its limit of results. A document is one version
// of a text: a message, or an edit whose terms show the edited message
// ("shown"), so a match needs every word in the same version.

// Bounds on what Message.Terms may hold.
const (
	MaxTerms   = 256
	MaxTermLen = 64
	docKeyLen  = 8 + GroupIDLen + 8 + MessageIDLen
)

var backfillKey = key('Y')

func docKey(timeMs int64, g GroupID, lamport uint64, id MessageID) []byte {
	if timeMs < 0 {
		timeMs = 0
	}
	d := make([]byte, 0, docKeyLen)
	d = binary.BigEndian.AppendUint64(d, ^uint64(timeMs))
	d = append(d, g[:]...)
	d = binary.BigEndian.AppendUint64(d, ^lamport)
	return append(d, id[:]...)
}

func termPrefix(term string) []byte {
	return append([]byte{'x', '/', byte(len(term))}, term...)
}

func validTerms(terms []string) error {
	if len(terms) > MaxTerms {
		return fmt.Errorf("%w: %d terms", ErrInvalid, len(terms))
	}
	for _, t := range terms {
		if len(t) == 0 || len(t) > MaxTermLen {
			return fmt.Errorf("%w: term length %d", ErrInvalid, len(t))
		}
	}
	return nil
}

// writeTerms sets the postings of one document and its X/ time key.
func writeTerms(txn *badger.Txn, g GroupID, id MessageID, lamport uint64, timeMs int64, terms []string, shown MessageID) error {
	if len(terms) == 0 {
		return nil
	}
	doc := docKey(timeMs, g, lamport, id)
	var val []byte
	if shown != id && shown != (MessageID{}) {
		val = append([]byte(nil), shown[:]...)
	}
	for _, t := range terms {
		if err := txn.Set(append(termPrefix(t), doc...), val); err != nil {
			return err
		}
	}
	return txn.Set(key('X', g[:], id[:]), u64(uint64(max(timeMs, 0))))
}

// indexTerms is insert's part: m's terms in the same transaction as m.
func (w *batchWriter) indexTerms(m *Message) error {
	return writeTerms(w.txn, m.Group, m.ID, m.Lamport, m.TimeMs, m.Terms, m.TermsOf)
}

// Unindex removes message id's postings for terms (a deleted message's
// words). Terms it never had are ignored; an unindexed id is a no-op.
func (s *Store) Unindex(g GroupID, id MessageID, terms []string) error {
	return s.update(func(txn *badger.Txn) error {
		item, err := txn.Get(key('X', g[:], id[:]))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var timeMs int64
		if err := item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("store: corrupt index time for %x", id[:8])
			}
			timeMs = int64(binary.BigEndian.Uint64(v))
			return nil
		}); err != nil {
			return err
		}
		lam, err := getU64(txn, key('i', g[:], id[:]))
		if err != nil {
			return err
		}
		doc := docKey(timeMs, g, lam, id)
		for _, t := range terms {
			if len(t) == 0 || len(t) > MaxTermLen {
				continue
			}
			if err := txn.Delete(append(termPrefix(t), doc...)); err != nil {
				return err
			}
		}
		return nil
	})
}

// termKeys are the posting keys of id's terms (and its indexed-time key):
// what Erase drops from the files with the body.
func (s *Store) termKeys(g GroupID, id MessageID, terms []string) ([][]byte, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	var out [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('X', g[:], id[:]))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil || len(v) != 8 {
			return fmt.Errorf("store: corrupt index time for %x", id[:8])
		}
		lam, err := getU64(txn, key('i', g[:], id[:]))
		if err != nil {
			return err
		}
		doc := docKey(int64(binary.BigEndian.Uint64(v)), g, lam, id)
		for _, t := range terms {
			if len(t) > 0 && len(t) <= MaxTermLen {
				out = append(out, append(termPrefix(t), doc...))
			}
		}
		out = append(out, key('X', g[:], id[:]))
		return nil
	})
	return out, err
}

// SearchHit is one message that matched every term.
type SearchHit struct {
	Group GroupID
	// Shown is the message to show (Lamport, Raw are its); Version is the
	// message whose terms matched: Shown itself, or an edit of it.
	Shown   Stored
	Version MessageID
}

// Search calls fn, newest first, for each held message whose terms (in one
// version) include every term, in group g only when g is not nil, each
// shown message once, until fn returns false. Postings of messages no longer
// held are skipped.
func (s *Store) Search(terms []string, g *GroupID, fn func(SearchHit) bool) error {
	if len(terms) == 0 {
		return fmt.Errorf("%w: no search terms", ErrInvalid)
	}
	if err := validTerms(terms); err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error {
		its := make([]*badger.Iterator, len(terms))
		prefixes := make([][]byte, len(terms))
		for i, t := range terms {
			prefixes[i] = termPrefix(t)
			its[i] = txn.NewIterator(badger.IteratorOptions{Prefix: prefixes[i]})
			defer its[i].Close()
			its[i].Rewind()
		}
		seen := map[[GroupIDLen + MessageIDLen]byte]bool{}
		doc := func(i int) []byte { return its[i].Item().Key()[len(prefixes[i]):] }
		for {
			// Leapfrog: seek every iterator to the greatest current doc
			// until they agree.
			var target []byte
			for i := range its {
				if !its[i].Valid() {
					return nil
				}
				if d := doc(i); target == nil || bytes.Compare(d, target) > 0 {
					target = append(target[:0], d...)
				}
			}
			agree := true
			for i := range its {
				if !bytes.Equal(doc(i), target) {
					advance(its[i], prefixes[i], target)
					agree = false
				}
			}
			if !agree {
				continue
			}
			if len(target) != docKeyLen {
				return fmt.Errorf("store: corrupt search key %x", its[0].Item().Key())
			}
			cont, err := s.emitHit(txn, its[0].Item(), target, g, seen, fn)
			if err != nil || !cont {
				return err
			}
			its[0].Next()
		}
	})
}

// advance moves it to the first posting at or after doc: a few Next calls
// first, since the target is often near and a Seek searches every table.
func advance(it *badger.Iterator, prefix, doc []byte) {
	for range 8 {
		it.Next()
		if !it.Valid() || bytes.Compare(it.Item().Key()[len(prefix):], doc) >= 0 {
			return
		}
	}
	it.Seek(append(append([]byte(nil), prefix...), doc...))
}

func (s *Store) emitHit(txn *badger.Txn, item *badger.Item, doc []byte, only *GroupID,
	seen map[[GroupIDLen + MessageIDLen]byte]bool, fn func(SearchHit) bool) (bool, error) {
	var h SearchHit
	copy(h.Group[:], doc[8:])
	if only != nil && *only != h.Group {
		return true, nil
	}
	lam := ^binary.BigEndian.Uint64(doc[8+GroupIDLen:])
	copy(h.Version[:], doc[8+GroupIDLen+8:])
	h.Shown.ID, h.Shown.Lamport = h.Version, lam
	if err := item.Value(func(v []byte) error {
		if len(v) == MessageIDLen {
			copy(h.Shown.ID[:], v)
		}
		return nil
	}); err != nil {
		return false, err
	}
	var sk [GroupIDLen + MessageIDLen]byte
	copy(sk[:], h.Group[:])
	copy(sk[GroupIDLen:], h.Shown.ID[:])
	if seen[sk] {
		return true, nil
	}
	g := h.Group[:]
	if h.Shown.ID != h.Version {
		// An edit: the shown message must be held, and so must the edit.
		if _, err := txn.Get(key('i', g, h.Version[:])); err != nil {
			return true, ignoreNotFound(err)
		}
		l, err := getU64(txn, key('i', g, h.Shown.ID[:]))
		if err != nil {
			return true, ignoreNotFound(err)
		}
		h.Shown.Lamport = l
	}
	mi, err := txn.Get(key('m', g, u64(h.Shown.Lamport), h.Shown.ID[:]))
	if err != nil {
		return true, ignoreNotFound(err) // erased since it was indexed
	}
	if h.Shown.Raw, err = mi.ValueCopy(nil); err != nil {
		return false, err
	}
	seen[sk] = true
	return fn(h), nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, badger.ErrKeyNotFound) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// IndexEntry is what Backfill's caller says about one stored message.
type IndexEntry struct {
	Terms  []string
	Of     MessageID // the message the terms show (an edit's target); zero: itself
	TimeMs int64
}

// BackfillPending reports whether messages stored before the search index
// existed (schema 3) still wait for Backfill.
func (s *Store) BackfillPending() (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(backfillKey)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Backfill indexes up to n messages stored before the index existed, in key
// order after the progress marker (Y/), asking entry for each one's terms,
// and moves the marker in the same transaction as their postings, so an
// interrupted backfill resumes where it stopped. done is true once every
// message is indexed (the marker is gone). Messages written meanwhile are
// indexed by insert; indexing one twice writes the same keys.
func (s *Store) Backfill(n int, entry func(g GroupID, st Stored) IndexEntry) (done bool, err error) {
	if n <= 0 {
		n = 1000
	}
	for attempt := 0; ; attempt++ {
		err = s.update(func(txn *badger.Txn) error {
			item, err := txn.Get(backfillKey)
			if errors.Is(err, badger.ErrKeyNotFound) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			after, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: key('m'), PrefetchValues: true, PrefetchSize: 100})
			defer it.Close()
			seek := key('m')
			if len(after) > 0 {
				seek = after
			}
			var last []byte
			count := 0
			for it.Seek(seek); it.Valid() && count < n; it.Next() {
				k := it.Item().Key()
				if bytes.Equal(k, after) {
					continue
				}
				var g GroupID
				copy(g[:], k[2:])
				st, err := decodeHistoryItem(it.Item())
				if err != nil {
					return err
				}
				e := entry(g, st)
				if validTerms(e.Terms) == nil {
					if err := writeTerms(txn, g, st.ID, st.Lamport, e.TimeMs, e.Terms, e.Of); err != nil {
						return err
					}
				}
				last = it.Item().KeyCopy(nil)
				count++
			}
			if count < n {
				done = true
				return txn.Delete(backfillKey)
			}
			return txn.Set(backfillKey, last)
		})
		if errors.Is(err, badger.ErrConflict) && attempt < 5 {
			continue // a message of this range was written meanwhile: read again
		}
		return done, err
	}
}

// markBackfill is the schema 3 migration: a store that holds messages gets
// the progress marker at the start, so Backfill indexes them all.
func markBackfill(db *badger.DB, to uint64) error {
	return db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('m')})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			if err := txn.Set(backfillKey, nil); err != nil {
				return err
			}
		}
		return setSchema(txn, to)
	})
}
