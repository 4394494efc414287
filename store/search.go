package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The search index (schema 4; postings in blocks since schema 7). The store gives terms no meaning: the caller
// tokenizes.
//
//	q/<tlen:1><term><doc:18>[tag:4] -> <doc:18>*                a block of postings (postings.go)
//	Q/<doc:18>                -> gid:16 lamport:8 id:32 [shown:32] the document
//	P/<ref:12>                -> time:8                          where its doc sorts
//	Y/                        -> last m/ key indexed by Backfill
//
//	doc = <^time:6><ref>, ref = <gid[:4]><id[:8]>
//
// A document is one version of a text: a message, or an edit whose terms
// show the edited message ("shown"), so a match needs every word in the
// same version. Postings carry only the 18-byte doc (schema 3 wrote the
// whole group id, Lamport time and message id into each of them: four times
// the bytes); the Q/ record, one per document, resolves a doc once it has
// matched every word. A doc sorts newest first across all groups, so a
// query reads every term's postings, and the records, in the same order and
// joins them by seeking (leapfrog): it stops as soon as it has its limit of
// results, and reads the records of its matches as one more list rather
// than by a Get each. Documents of the same millisecond sort by group tag,
// then id. The group tag lets a query scoped to one group skip the others'
// docs without reading Q/. P/ gives Unindex and Erase, which know a message
// by group and id, its doc, from which they rebuild its postings' keys.
//
// ref is a truncated id: two messages of one group whose ids share 8 bytes
// (only by brute force on one's own messages: a second preimage of a given
// id costs 2^64 hashes) share a P/ key, the later one winning; at the same
// millisecond they share a Q/ record too, so one shows for the other's words.

// Bounds on what Message.Terms may hold.
const (
	MaxTerms   = 256
	MaxTermLen = 64

	docTimeLen  = 6
	groupTagLen = 4
	refLen      = groupTagLen + 8
	docLen      = docTimeLen + refLen
	maxDocTime  = 1<<(8*docTimeLen) - 1 // milliseconds: year 10889
	recLen      = GroupIDLen + 8 + MessageIDLen
)

var backfillKey = key('Y')

func clampTime(timeMs int64) uint64 { return uint64(min(max(timeMs, 0), maxDocTime)) }

func docRef(g GroupID, id MessageID) []byte {
	r := make([]byte, 0, refLen)
	r = append(r, g[:groupTagLen]...)
	return append(r, id[:refLen-groupTagLen]...)
}

// docKey is a document's place in every posting list: newest first.
func docKey(timeMs int64, g GroupID, id MessageID) []byte {
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], ^clampTime(timeMs))
	return append(t[8-docTimeLen:], docRef(g, id)...)
}

func termPrefix(term string) []byte {
	return append([]byte{'q', '/', byte(len(term))}, term...)
}

func docRecKey(doc []byte) []byte { return key('Q', doc) }

func docTimeKey(g GroupID, id MessageID) []byte { return key('P', docRef(g, id)) }

// docRec is a Q/ record (and the time from its P/ key).
type docRec struct {
	timeMs  int64
	group   GroupID
	lamport uint64
	id      MessageID
	shown   MessageID // == id unless an edit
}

func (r docRec) encode() []byte {
	v := make([]byte, 0, recLen+MessageIDLen)
	v = append(v, r.group[:]...)
	v = binary.BigEndian.AppendUint64(v, r.lamport)
	v = append(v, r.id[:]...)
	if r.shown != r.id {
		v = append(v, r.shown[:]...)
	}
	return v
}

func decodeDocRec(v []byte) (docRec, error) {
	var r docRec
	if len(v) != recLen && len(v) != recLen+MessageIDLen {
		return r, fmt.Errorf("store: corrupt search record (%d bytes)", len(v))
	}
	copy(r.group[:], v)
	r.lamport = binary.BigEndian.Uint64(v[GroupIDLen:])
	copy(r.id[:], v[8+GroupIDLen:])
	r.shown = r.id
	if len(v) > recLen {
		copy(r.shown[:], v[recLen:])
	}
	return r, nil
}

// readDocRec reads message id's record; false if it has none (never
// indexed, or the record is another message's).
func readDocRec(txn *badger.Txn, g GroupID, id MessageID) (docRec, bool, error) {
	timeMs, err := getU64(txn, docTimeKey(g, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return docRec{}, false, nil
	}
	if err != nil {
		return docRec{}, false, err
	}
	item, err := txn.Get(docRecKey(docKey(int64(timeMs), g, id)))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return docRec{}, false, nil
	}
	if err != nil {
		return docRec{}, false, err
	}
	var r docRec
	if err := item.Value(func(v []byte) (err error) { r, err = decodeDocRec(v); return err }); err != nil {
		return r, false, err
	}
	r.timeMs = int64(timeMs)
	return r, r.group == g && r.id == id, nil
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

// writeTerms adds the postings of one document to ps, which the caller
// writes as blocks before its transaction commits, and sets its records.
func writeTerms(txn *badger.Txn, ps *postingSet, g GroupID, id MessageID, lamport uint64, timeMs int64, terms []string, shown MessageID) error {
	if len(terms) == 0 {
		return nil
	}
	if shown == (MessageID{}) {
		shown = id
	}
	doc := docKey(timeMs, g, id)
	for _, t := range terms {
		ps.add(t, doc)
	}
	rec := docRec{group: g, lamport: lamport, id: id, shown: shown}
	if err := txn.Set(docRecKey(doc), rec.encode()); err != nil {
		return err
	}
	return txn.Set(docTimeKey(g, id), u64(clampTime(timeMs)))
}

// writeIndexEntry adds the postings an IndexEntry gives a stored message
// (Backfill, IndexDeferred) to ps and returns what that may cost the
// transaction, in keys of maxKeyCost: its two records, a block for each
// word new to ps, and its docs' bytes in blocks. Terms out of bounds are not
// indexed, as a commit would refuse them.
func writeIndexEntry(txn *badger.Txn, ps *postingSet, g GroupID, id MessageID, lamport uint64, e IndexEntry) (int, error) {
	if validTerms(e.Terms) != nil {
		return 0, nil
	}
	blocks := ps.blocks()
	if err := writeTerms(txn, ps, g, id, lamport, e.TimeMs, e.Terms, e.Of); err != nil {
		return 0, err
	}
	return 2 + ps.blocks() - blocks + (len(e.Terms)*docLen+maxKeyCost-1)/maxKeyCost, nil
}

// indexTerms is insert's part: m's terms in the same transaction as m,
// unless they are deferred (deferred.go).
func (w *batchWriter) indexTerms(m *Message) error {
	if m.IndexLater {
		return nil // insert flags its arrival entry instead
	}
	return writeTerms(w.txn, &w.postings, m.Group, m.ID, m.Lamport, m.TimeMs, m.Terms, m.TermsOf)
}

// Unindex removes message id's postings for terms (a deleted message's
// words). Terms it never had are ignored; an unindexed id is a no-op. The
// Q/ and P/ records stay, for Erase to find the keys to drop from the files.
func (s *Store) Unindex(g GroupID, id MessageID, terms []string) error {
	_, err := unindexTerms(s.update, g, id, terms, false)
	return err
}

// unindexTerms removes id's postings for terms, a transaction per word
// through update: each word's blocks are rewritten whole, and all of a
// long text's words at once could exceed Badger's batch limit. For an
// erase it returns the keys that held them (left live for the drop:
// unindexDoc) and its records: what Erase drops from the files with the
// body.
func unindexTerms(update func(func(*badger.Txn) error) error, g GroupID, id MessageID, terms []string, erase bool) ([][]byte, error) {
	var doc []byte
	err := update(func(txn *badger.Txn) error {
		rec, ok, err := readDocRec(txn, g, id)
		if ok {
			doc = docKey(rec.timeMs, g, id)
		}
		return err
	})
	if err != nil || doc == nil {
		return nil, err
	}
	var drop *[][]byte
	if erase {
		drop = &[][]byte{}
	}
	for _, t := range terms {
		if len(t) == 0 || len(t) > MaxTermLen {
			continue
		}
		if err := update(func(txn *badger.Txn) error { return unindexDoc(txn, t, doc, drop) }); err != nil {
			return nil, err
		}
	}
	if !erase {
		return nil, nil
	}
	return append(*drop, docRecKey(doc), docTimeKey(g, id)), nil
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
// held are skipped. Only the postings (keys, no values) are read until a
// document matches every term; its record and body are read then.
func (s *Store) Search(terms []string, g *GroupID, fn func(SearchHit) bool) error {
	if len(terms) == 0 {
		return fmt.Errorf("%w: no search terms", ErrInvalid)
	}
	if err := validTerms(terms); err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error {
		cs := make([]*termCursor, len(terms))
		for i, t := range terms {
			cs[i] = newTermCursor(txn, t)
			defer cs[i].close()
		}
		rc := &cursor{plen: 2, prefix: key('Q'), nexts: 8} // opened at the first match
		defer func() {
			if rc.it != nil {
				rc.it.Close()
			}
		}()
		seen := map[[GroupIDLen + MessageIDLen]byte]bool{}
		target := make([]byte, 0, docLen)
		for {
			// Leapfrog: move every cursor to the greatest current doc until
			// they agree.
			target = target[:0]
			for _, c := range cs {
				if c.err != nil {
					return c.err
				}
				if !c.valid() {
					return nil
				}
				if d := c.doc(); len(target) == 0 || bytes.Compare(d, target) > 0 {
					target = append(target[:0], d...)
				}
			}
			agree := true
			for _, c := range cs {
				if !bytes.Equal(c.doc(), target) {
					c.advance(target)
					agree = false
				}
			}
			if !agree {
				continue
			}
			cont, err := s.emitHit(txn, rc, target, g, seen, fn)
			if err != nil || !cont {
				return err
			}
			cs[0].next()
		}
	})
}

// cursor walks keys of one prefix in order (a list of records).
type cursor struct {
	it     *badger.Iterator
	plen   int
	prefix []byte
	nexts  int // Next calls to try before a Seek
}

func (c *cursor) doc() []byte { return c.it.Item().Key()[c.plen:] }

// advance moves c to the first key at or after prefix+doc. A Seek searches
// every level and table for the key, about as costly as 30 Next calls, so
// a few Next calls come first when the target is often near; a list that
// keeps needing Seeks (a frequent word joined with a rare one) tries fewer.
func (c *cursor) advance(doc []byte) {
	for range c.nexts {
		c.it.Next()
		if !c.it.Valid() || bytes.Compare(c.doc(), doc) >= 0 {
			c.nexts = min(c.nexts+2, 16)
			return
		}
	}
	c.nexts = max(c.nexts/2, 1)
	c.it.Seek(append(append(make([]byte, 0, c.plen+len(doc)), c.prefix...), doc...))
}

// emitHit resolves a matching doc through its Q/ record (rc, the records'
// cursor, moves forward to it) and calls fn, unless the doc is of another
// group, has no record or another message's (a ref collision), is shown
// already, or is no longer held.
func (s *Store) emitHit(txn *badger.Txn, rc *cursor, doc []byte, only *GroupID,
	seen map[[GroupIDLen + MessageIDLen]byte]bool, fn func(SearchHit) bool) (bool, error) {
	if only != nil && !bytes.Equal(doc[docTimeLen:docTimeLen+groupTagLen], only[:groupTagLen]) {
		return true, nil
	}
	switch {
	case rc.it == nil:
		rc.it = txn.NewIterator(badger.IteratorOptions{Prefix: rc.prefix, PrefetchValues: false})
		rc.it.Seek(append(append([]byte(nil), rc.prefix...), doc...))
	case rc.it.Valid() && bytes.Compare(rc.doc(), doc) < 0:
		rc.advance(doc) // docs only grow: rc never has to move back
	}
	if !rc.it.Valid() || !bytes.Equal(rc.doc(), doc) {
		return true, nil
	}
	var rec docRec
	if err := rc.it.Item().Value(func(v []byte) (err error) { rec, err = decodeDocRec(v); return err }); err != nil {
		return false, err
	}
	if !bytes.Equal(docKey(0, rec.group, rec.id)[docTimeLen:], doc[docTimeLen:]) || (only != nil && *only != rec.group) {
		return true, nil
	}
	h := SearchHit{Group: rec.group, Version: rec.id}
	h.Shown.ID, h.Shown.Lamport = rec.shown, rec.lamport
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

// BackfillPending reports whether messages stored before the current search
// index (schema 4) still wait for Backfill.
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
	// Between commits, as an erase runs (so no commit overlaps it either):
	// a body erased meanwhile is never indexed after its erase (deferred.go).
	err = s.updateBetweenCommits(func(txn *badger.Txn) error {
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
		var ps postingSet
		count, keys, budget := 0, 0, s.indexBudget()
		for it.Seek(seek); it.Valid() && count < n && keys < budget; it.Next() {
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
			written, err := writeIndexEntry(txn, &ps, g, st.ID, st.Lamport, entry(g, st))
			if err != nil {
				return err
			}
			keys += written
			last = it.Item().KeyCopy(nil)
			count++
		}
		if err := ps.write(txn); err != nil {
			return err
		}
		if !it.Valid() {
			done = true
			return txn.Delete(backfillKey)
		}
		return txn.Set(backfillKey, last)
	})
	return done, err
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

// reindexSearch is the schema 4 migration: the schema 3 postings (x/) and
// their time keys (X/) are dropped from the files, and every message is
// marked for Backfill again, which writes the compact ones (q/, Q/). Both
// steps may be repeated after a crash: DropPrefix of what is gone is a no-op,
// and the marker moves back to the start with the version.
func reindexSearch(db *badger.DB, to uint64) error {
	if err := db.DropPrefix(key('x'), key('X')); err != nil {
		return err
	}
	if migrateFault != nil {
		if err := migrateFault(to, 0); err != nil {
			return err
		}
	}
	return markBackfill(db, to)
}
