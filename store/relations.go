package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Relations: t/<group>/<target>/<lamport>/<id> -> nil, one key per target a
// message names (Message.Targets). Related reads them back in display
// order, so a front end folds reactions, edits and votes without scanning
// the history.

func relationKey(g GroupID, target MessageID, lamport uint64, id MessageID) []byte {
	return key('t', g[:], target[:], u64(lamport), id[:])
}

// Related calls fn, in (lamport, id) order, for each held message of g that
// names target in its Targets, until fn returns false.
func (s *Store) Related(g GroupID, target MessageID, fn func(Stored) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := key('t', g[:], target[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+8+MessageIDLen {
				return fmt.Errorf("store: corrupt relation key %x", k)
			}
			lam := binary.BigEndian.Uint64(k[len(prefix):])
			var id MessageID
			copy(id[:], k[len(prefix)+8:])
			item, err := txn.Get(key('m', g[:], u64(lam), id[:]))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // erased since
			}
			if err != nil {
				return err
			}
			raw, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			st := Stored{ID: id, Lamport: lam, Raw: raw}
			if isErased(raw) {
				st.Raw, st.Erased = nil, true
			}
			if !fn(st) {
				return nil
			}
		}
		return nil
	})
}

// RelatedIDs is Related reading keys only: the (lamport, id) of each
// message naming target, for callers that cache what they decoded (a
// poll's votes are folded again on every new vote). A message erased since
// may be listed; GetAt then reports it Erased.
func (s *Store) RelatedIDs(g GroupID, target MessageID, fn func(lamport uint64, id MessageID) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := key('t', g[:], target[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+8+MessageIDLen {
				return fmt.Errorf("store: corrupt relation key %x", k)
			}
			var id MessageID
			copy(id[:], k[len(prefix)+8:])
			if !fn(binary.BigEndian.Uint64(k[len(prefix):]), id) {
				return nil
			}
		}
		return nil
	})
}
