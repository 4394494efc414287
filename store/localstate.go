package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Local state: small named records of this device's own view (what it has
// read, which conversation was open, which groups are muted). They are
// never synced and mean nothing to the store; the caller names and encodes
// them. Key added by this file (see doc.go for the rest):
//
//	L/<name>  -> value

// PutLocalState stores a local-state record, durably.
func (s *Store) PutLocalState(name string, v []byte) error {
	if name == "" {
		return fmt.Errorf("%w: empty local-state name", ErrInvalid)
	}
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(key('L', []byte(name)), v) }); err != nil {
		return err
	}
	return s.sync()
}

// LocalState returns a local-state record or ErrNotFound.
func (s *Store) LocalState(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('L', []byte(name)))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return out, err
}

// DeleteLocalState removes a local-state record (absent is fine), durably.
func (s *Store) DeleteLocalState(name string) error {
	if err := s.update(func(txn *badger.Txn) error { return txn.Delete(key('L', []byte(name))) }); err != nil {
		return err
	}
	return s.sync()
}
