package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	badger "github.com/dgraph-io/badger/v4"
)

// Arrival order: the n-th message a store received in a group is indexed
// under A/<gid><n>. History is shown in causal (Lamport) order, but "what is
// new since I last looked" is about arrival: a message written during a
// partition arrives after the reader's last look yet sorts before it, and
// a read position kept as a place in history would never count it unread.
// The group's counter (n/, Stats.Count) is the arrival number of the newest.

func arrivalKey(g GroupID, n uint64) []byte { return key('A', g[:], u64(n)) }

// arrivalNumber reads n back from an arrivalKey (false if k is not one).
func arrivalNumber(k []byte) (uint64, bool) {
	if len(k) != 2+GroupIDLen+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[2+GroupIDLen:]), true
}

// arrivalRef reads an A/ value: the message's history key (lamport, id),
// whether its search postings are deferred (a trailing flag byte,
// deferred.go), and false if the value is neither form.
func arrivalRef(v []byte) (ref []byte, later, ok bool) {
	switch {
	case len(v) == 8+MessageIDLen:
		return v, false, true
	case len(v) == 8+MessageIDLen+1 && v[len(v)-1] == arrivalIndexLater:
		return v[:8+MessageIDLen], true, true
	}
	return nil, false, false
}

// ArrivedAfter calls fn, in the order they arrived, for the messages of g
// received after the first n (Stats.Count at the time of an earlier look),
// until fn returns false.
func (s *Store) ArrivedAfter(g GroupID, n uint64, fn func(Stored) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('A', g[:]), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(arrivalKey(g, n+1)); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ref, _, ok := arrivalRef(v)
			if !ok {
				return fmt.Errorf("store: corrupt arrival entry %x", it.Item().Key())
			}
			item, err := txn.Get(key('m', g[:], ref))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // never expected: the message and its entry commit together
			}
			if err != nil {
				return err
			}
			st, err := decodeHistoryItem(item)
			if err != nil {
				return err
			}
			if !fn(st) {
				return nil
			}
		}
		return nil
	})
}

// ArrivalOf is the arrival number of the message at history cursor c in g
// (1 for the first message g received), and false if g holds no such
// message. It turns a read position kept as a history cursor (before
// schema 5) into an arrival count: what arrived up to the message read
// last was seen, whatever its place in history. The walk runs from the
// newest arrival back, since the message read last is usually recent.
func (s *Store) ArrivalOf(g GroupID, c Cursor) (uint64, bool, error) {
	want := append(u64(c.Lamport), c.ID[:]...)
	var n uint64
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('A', g[:]), Reverse: true, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(arrivalKey(g, math.MaxUint64)); it.Valid(); it.Next() {
			k := it.Item().Key()
			err := it.Item().Value(func(v []byte) error {
				ref, _, okRef := arrivalRef(v)
				num, okKey := arrivalNumber(k)
				if !okRef || !okKey {
					return fmt.Errorf("store: corrupt arrival entry %x", k)
				}
				if string(ref) == string(want) {
					n, found = num, true
				}
				return nil
			})
			if err != nil || found {
				return err
			}
		}
		return nil
	})
	return n, found, err
}

// ArrivalsThrough counts the messages of g at or before c in history order.
// It turns a read position kept as a history cursor (before schema 5) into
// an arrival count: the schema 5 migration numbered the messages then held
// in history order.
func (s *Store) ArrivalsThrough(g GroupID, c Cursor) (uint64, error) {
	var n uint64
	last := key('m', g[:], u64(c.Lamport), c.ID[:])
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('m', g[:])})
		defer it.Close()
		for it.Rewind(); it.Valid() && string(it.Item().Key()) <= string(last); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// numberArrivals is the schema 5 migration: it numbers the messages held in
// each group in history order (the best guess of their arrival), in
// transactions of migrateChunk keys. A crash repeats the numbering from the
// start with the same result. The last transaction lifts each group's
// counter to the numbers given, should it ever be below, and the version.
func numberArrivals(db *badger.DB, to uint64) error {
	counts := map[GroupID]uint64{}
	seek := key('m')
	for chunk := 0; ; chunk++ {
		type entry struct {
			g   GroupID
			ref []byte
		}
		var batch []entry
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: key('m')})
			defer it.Close()
			for it.Seek(seek); it.Valid() && len(batch) < migrateChunk; it.Next() {
				k := it.Item().Key()
				if len(k) != 2+GroupIDLen+8+MessageIDLen {
					return fmt.Errorf("store: corrupt history key %x", k)
				}
				var g GroupID
				copy(g[:], k[2:])
				batch = append(batch, entry{g, append([]byte(nil), k[2+GroupIDLen:]...)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		last := len(batch) < migrateChunk
		err = db.Update(func(txn *badger.Txn) error {
			for _, e := range batch {
				counts[e.g]++
				if err := txn.Set(arrivalKey(e.g, counts[e.g]), e.ref); err != nil {
					return err
				}
			}
			if !last {
				return nil
			}
			for g, n := range counts {
				if err := raiseCount(txn, g, n); err != nil {
					return err
				}
			}
			return setSchema(txn, to)
		})
		if err != nil || last {
			return err
		}
		e := batch[len(batch)-1]
		seek = append(key('m', e.g[:], e.ref), 0)
		if migrateFault != nil {
			if err := migrateFault(to, chunk); err != nil {
				return err
			}
		}
	}
}

// raiseCount sets g's message counter to at least n.
func raiseCount(txn *badger.Txn, g GroupID, n uint64) error {
	v := make([]byte, 16)
	item, err := txn.Get(key('n', g[:]))
	switch {
	case err == nil:
		if err := item.Value(func(b []byte) error { copy(v, b); return nil }); err != nil {
			return err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	if binary.BigEndian.Uint64(v) >= n {
		return nil
	}
	binary.BigEndian.PutUint64(v, n)
	return txn.Set(key('n', g[:]), v)
}
