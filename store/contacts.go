package store

import (
	"encoding/json"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Contact and pairing records (keyspaces added after schema 2; a store
// without them simply has none, so no migration is needed):
//
//	c/<peer id>  -> JSON Contact   a known person: how to name, reach and trust it
//	d/<gid>      -> JSON Pair      a two-member group kept with one contact
//
// The values are opaque to the store apart from their keys: the node decides
// what a contact's key bytes and a pair's fields mean.

// Contact is a person this profile knows directly.
type Contact struct {
	Peer    []byte   `json:"peer"` // peer id bytes: the record's key
	Name    string   `json:"name"`
	Key     []byte   `json:"key,omitempty"` // the contact's public key for sealing (opaque here)
	Addrs   [][]byte `json:"addrs,omitempty"`
	Blocked bool     `json:"blocked,omitempty"`
	// Pair is the group kept with this contact (zero: none yet).
	Pair    GroupID `json:"pair"`
	AddedMs int64   `json:"added_ms"`
}

// Pair is a group with exactly one other party, and the delivery state of
// the offer that brings it to that party.
type Pair struct {
	Group GroupID `json:"group"`
	Peer  []byte  `json:"peer"`
	// Outgoing offer: Pending until the peer accepted or refused it (or
	// delivery gave up); Tries and NextMs bound the retries across restarts.
	Pending   bool  `json:"pending,omitempty"`
	Tries     int   `json:"tries,omitempty"`
	NextMs    int64 `json:"next_ms,omitempty"`
	CreatedMs int64 `json:"created_ms"`
}

// PutContact creates or replaces a contact, durably.
func (s *Store) PutContact(c Contact) error {
	if len(c.Peer) == 0 {
		return fmt.Errorf("%w: empty contact peer", ErrInvalid)
	}
	return s.putJSON(key('c', c.Peer), c)
}

// GetContact returns one contact or ErrNotFound.
func (s *Store) GetContact(peer []byte) (Contact, error) {
	var c Contact
	err := s.getJSON(key('c', peer), &c)
	return c, err
}

// Contacts returns every contact, in key order.
func (s *Store) Contacts() ([]Contact, error) {
	var out []Contact
	err := s.scanJSON('c', func(v []byte) error {
		var c Contact
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// DeleteContact forgets a contact, durably (no error if absent).
func (s *Store) DeleteContact(peer []byte) error {
	return s.deleteKey(key('c', peer))
}

// PutPair creates or replaces a pair record, durably.
func (s *Store) PutPair(p Pair) error {
	if len(p.Peer) == 0 {
		return fmt.Errorf("%w: empty pair peer", ErrInvalid)
	}
	return s.putJSON(key('d', p.Group[:]), p)
}

// GetPair returns the pair record of a group or ErrNotFound.
func (s *Store) GetPair(g GroupID) (Pair, error) {
	var p Pair
	err := s.getJSON(key('d', g[:]), &p)
	return p, err
}

// Pairs returns every pair record.
func (s *Store) Pairs() ([]Pair, error) {
	var out []Pair
	err := s.scanJSON('d', func(v []byte) error {
		var p Pair
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (s *Store) deleteKey(k []byte) error {
	if err := s.update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
		return err
	}
	return s.sync()
}
