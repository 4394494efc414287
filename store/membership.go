package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Membership records (keyspaces added after schema 2; a store without them
// simply has none, so no migration is needed):
//
//	o/<gid><op id:32>     -> encoded membership op    a group's membership log
//	e/<gid><epoch id:32>  -> epoch secret             secrets of key epochs still kept
//
// Ops and secrets are opaque bytes to the store; the node validates them.

// OpIDLen is the size of a membership op id (and so of an epoch id).
const OpIDLen = 32

// PutMembershipOp keeps one op of a group's membership log, durably.
func (s *Store) PutMembershipOp(g GroupID, id [OpIDLen]byte, op []byte) error {
	defer s.membershipVer.Add(1) // after the write: a reader takes the version first
	return s.putRaw(key('o', g[:], id[:]), op)
}

// MembershipVersion changes whenever a membership op or a member record is
// written, so a reader may keep what it derived from them (names, a
// replayed log) until it changes. Take it before reading what it covers.
func (s *Store) MembershipVersion() uint64 { return s.membershipVer.Load() }

// MembershipOps returns every op kept for a group (in key order).
func (s *Store) MembershipOps(g GroupID) ([][]byte, error) {
	var out [][]byte
	err := s.scanRaw(key('o', g[:]), func(_, v []byte) { out = append(out, v) })
	return out, err
}

// PutEpochSecret keeps an epoch's secret, durably.
func (s *Store) PutEpochSecret(g GroupID, epoch [OpIDLen]byte, secret []byte) error {
	return s.putRaw(key('e', g[:], epoch[:]), secret)
}

// EpochSecrets returns the kept epoch secrets of a group by epoch id.
func (s *Store) EpochSecrets(g GroupID) (map[[OpIDLen]byte][]byte, error) {
	out := map[[OpIDLen]byte][]byte{}
	prefix := key('e', g[:])
	err := s.scanRaw(prefix, func(k, v []byte) {
		var id [OpIDLen]byte
		if len(k) == len(prefix)+OpIDLen {
			copy(id[:], k[len(prefix):])
			out[id] = v
		}
	})
	return out, err
}

// DeleteEpochSecret forgets an epoch's secret, durably (forward secrecy:
// a later compromise of the store cannot open that epoch's captured traffic).
func (s *Store) DeleteEpochSecret(g GroupID, epoch [OpIDLen]byte) error {
	if err := s.update(func(txn *badger.Txn) error { return txn.Delete(key('e', g[:], epoch[:])) }); err != nil {
		return err
	}
	return s.sync()
}

func (s *Store) putRaw(k, v []byte) error {
	if len(v) == 0 {
		return fmt.Errorf("%w: empty value", ErrInvalid)
	}
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
		return err
	}
	return s.sync()
}

func (s *Store) scanRaw(prefix []byte, fn func(k, v []byte)) error {
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			fn(it.Item().KeyCopy(nil), v)
		}
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	return err
}
