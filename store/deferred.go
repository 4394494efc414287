package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Deferred indexing. A message stored with Message.IndexLater gets no
// search postings in its commit (they are most of a message's keys): its
// arrival entry (A/, arrival.go) carries a flag byte instead, and the group
// a watermark:
//
//	A/<gid><n>  -> lamport:8 id:32 0x01   message n's postings are deferred
//	y/<gid>     -> n:8                    every deferred message up to arrival n is indexed
//
// IndexDeferred walks the arrivals after the watermark and writes the
// flagged ones' postings. No key is written per message beyond what a
// commit writes anyway, and the walk reads the arrival list and the bodies
// in order. A group without a y/ key has nothing deferred.

const arrivalIndexLater = 0x01

// indexKeyBudget bounds the keys one indexing transaction writes, whatever
// the texts' lengths (MaxTerms words each); indexBudget lowers it to what
// Badger's batch limits allow.
const indexKeyBudget = 4096

// maxKeyCost is the most bytes a key of the index costs in a batch: a
// block's key (a Q/ record is no larger), and Badger's per-entry overhead.
const maxKeyCost = 3 + MaxTermLen + docLen + tagLen + 32

// indexBudget is indexKeyBudget within half of Badger's batch limits, each
// key counted at maxKeyCost.
func (s *Store) indexBudget() int {
	return int(min(indexKeyBudget, s.db.MaxBatchCount()/2, s.db.MaxBatchSize()/2/maxKeyCost))
}

func deferredKey(g GroupID) []byte { return key('y', g[:]) }

// markDeferred is insert's part for an IndexLater message of arrival n:
// the group's watermark is set below it unless one is already there.
func (w *batchWriter) markDeferred(c *groupCounter, g GroupID, n uint64) error {
	if c.deferMarked {
		return nil
	}
	_, err := w.txn.Get(deferredKey(g))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		err = w.txn.Set(deferredKey(g), u64(n-1))
	case err != nil:
		return err
	}
	c.deferMarked = err == nil
	return err
}

// DeferredPending reports whether messages stored with IndexLater still
// wait for IndexDeferred.
func (s *Store) DeferredPending() (bool, error) {
	pending := false
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('y')})
		defer it.Close()
		it.Rewind()
		pending = it.Valid()
		return nil
	})
	return pending, err
}

// IndexDeferred walks up to n arrivals after one group's watermark,
// writes the postings of the deferred ones (asking entry for each one's
// terms) and moves the watermark in the same transaction, so an
// interrupted run resumes there. done is true once nothing is deferred.
// It runs on the committer between two commits, as Erase does, so an erase
// sees either the postings (and drops them from the files with the body)
// or the body already gone (and the message is skipped here): a deleted
// message's words are never written after its erase.
func (s *Store) IndexDeferred(n int, entry func(g GroupID, st Stored) IndexEntry) (done bool, err error) {
	if n <= 0 {
		n = 256
	}
	err = s.updateBetweenCommits(func(txn *badger.Txn) error {
		// This moves or deletes a watermark: the committer must read y/
		// again. Forgotten here, on the committer, so that no batch runs
		// between this transaction and the forgetting.
		s.committed.forgetMarks()
		// A Badger read-write transaction has one iterator open at a time.
		g, from, others, ok, err := firstDeferred(txn)
		if err != nil || !ok {
			done = err == nil
			return err
		}
		refs, last, end, err := deferredArrivals(txn, g, from, n)
		if err != nil {
			return err
		}
		through, err := indexBodies(txn, g, refs, s.indexBudget(), entry)
		if err != nil {
			return err
		}
		if through > 0 { // the transaction's key budget ran out at arrival through
			last, end = through, false
		}
		if end {
			done = !others
			return txn.Delete(deferredKey(g))
		}
		return txn.Set(deferredKey(g), u64(last))
	})
	return done, err
}

// firstDeferred is the first group with a watermark, the watermark, and
// whether another group has one too.
func firstDeferred(txn *badger.Txn) (g GroupID, from uint64, others, ok bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: key('y')})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if ok {
			return g, from, true, true, nil
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return g, 0, false, false, err
		}
		if len(k) != 2+GroupIDLen || len(v) != 8 {
			continue // not ours: never written by this version
		}
		copy(g[:], k[2:])
		from, ok = binary.BigEndian.Uint64(v), true
	}
	return g, from, false, ok, nil
}

// deferredRef is a deferred message: its arrival number and history key
// (lamport, id).
type deferredRef struct {
	arrival uint64
	ref     []byte
}

// deferredArrivals reads up to n arrival entries of g after from and
// returns the deferred ones, the last arrival read, and whether the list
// ended.
func deferredArrivals(txn *badger.Txn, g GroupID, from uint64, n int) (refs []deferredRef, last uint64, end bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: key('A', g[:]), PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	last, read := from, 0
	for it.Seek(arrivalKey(g, from+1)); it.Valid(); it.Next() {
		if read == n {
			return refs, last, false, nil
		}
		read++
		num, ok := arrivalNumber(it.Item().Key())
		if !ok {
			return nil, 0, false, fmt.Errorf("store: corrupt arrival key %x", it.Item().Key())
		}
		last = num
		err := it.Item().Value(func(v []byte) error {
			if ref, later, _ := arrivalRef(v); later {
				refs = append(refs, deferredRef{last, append([]byte(nil), ref...)})
			}
			return nil
		})
		if err != nil {
			return nil, 0, false, err
		}
	}
	return refs, last, true, nil
}

// indexBodies writes the postings of the messages of g at refs, reading
// their bodies with one cursor: a catch-up's messages arrive in about
// history order, so most are a Next away, where a Get each would search
// every level. A body no longer held or erased is skipped. Once the
// transaction holds budget keys it stops and returns the arrival of the
// last message indexed (0: all were).
func indexBodies(txn *badger.Txn, g GroupID, refs []deferredRef, budget int, entry func(GroupID, Stored) IndexEntry) (through uint64, err error) {
	if len(refs) == 0 {
		return 0, nil
	}
	prefix := key('m', g[:])
	bodies := &cursor{it: txn.NewIterator(badger.IteratorOptions{Prefix: prefix}), plen: len(prefix), prefix: prefix, nexts: 8}
	defer bodies.it.Close()
	bodies.it.Rewind()
	keys := 0
	var ps postingSet
	for i, r := range refs {
		if keys >= budget {
			return refs[i-1].arrival, ps.write(txn)
		}
		ref := r.ref
		switch {
		case bodies.it.Valid() && bytes.Compare(bodies.doc(), ref) < 0:
			bodies.advance(ref)
		case !bodies.it.Valid() || bytes.Compare(bodies.doc(), ref) > 0:
			bodies.it.Seek(append(append([]byte(nil), prefix...), ref...)) // behind: arrived out of order
		}
		if !bodies.it.Valid() || !bytes.Equal(bodies.doc(), ref) {
			continue
		}
		raw, err := bodies.it.Item().ValueCopy(nil)
		if err != nil {
			return 0, err
		}
		if isErased(raw) {
			continue
		}
		var id MessageID
		copy(id[:], ref[8:])
		lamport := binary.BigEndian.Uint64(ref)
		written, err := writeIndexEntry(txn, &ps, g, id, lamport, entry(g, Stored{ID: id, Lamport: lamport, Raw: raw}))
		if err != nil {
			return 0, err
		}
		keys += written
	}
	return 0, ps.write(txn)
}

// updateBetweenCommits runs fn in a transaction on the committer, between
// two commits: no message commit and no erase overlaps it.
func (s *Store) updateBetweenCommits(fn func(txn *badger.Txn) error) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.exclusive(func() error { return s.update(fn) })
}
