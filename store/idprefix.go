package store

import (
	badger "github.com/dgraph-io/badger/v4"
)

// IDsWithBytePrefix lists (IDsWithPrefix takes the hex a person typed) up to limit held message ids of g whose bytes start
// with prefix (the id index i/ is ordered by id, so this reads only the
// matching keys): how a short id a person typed is resolved.
func (s *Store) IDsWithBytePrefix(g GroupID, prefix []byte, limit int) ([]MessageID, error) {
	var out []MessageID
	err := s.db.View(func(txn *badger.Txn) error {
		p := key('i', g[:], prefix)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
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
