package store

import (
	"encoding/hex"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// IDsWithPrefix returns up to limit held ids of g whose lowercase hex form
// starts with hexPrefix (an id typed by a person: a unique prefix).
func (s *Store) IDsWithPrefix(g GroupID, hexPrefix string, limit int) ([]MessageID, error) {
	hexPrefix = strings.ToLower(hexPrefix)
	whole, err := hex.DecodeString(hexPrefix[:len(hexPrefix)/2*2])
	if err != nil || len(whole) > MessageIDLen {
		return nil, nil
	}
	var out []MessageID
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('i', g[:], whole)})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) != 2+GroupIDLen+MessageIDLen {
				continue
			}
			var id MessageID
			copy(id[:], k[2+GroupIDLen:])
			if strings.HasPrefix(hex.EncodeToString(id[:]), hexPrefix) {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}
