package store

import (
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Group is a group this profile belongs to.
type Group struct {
	ID              GroupID `json:"id"`
	Name            string  `json:"name"`
	Secret          []byte  `json:"secret"`
	CreatedMs       int64   `json:"created_ms"`
	JoinedMs        int64   `json:"joined_ms"`
	HistoryFromJoin bool    `json:"history_from_join"`
}

// Peer is a remembered peer: how to reach it again after a restart.
type Peer struct {
	ID         []byte   `json:"id"`
	Addrs      [][]byte `json:"addrs"`
	LastSeenMs int64    `json:"last_seen_ms"`
}

// PutGroup creates or replaces a group, durably.
func (s *Store) PutGroup(g Group) error { return s.putJSON(key('g', g.ID[:]), g) }

// GetGroup returns one group.
func (s *Store) GetGroup(id GroupID) (Group, error) {
	var g Group
	err := s.getJSON(key('g', id[:]), &g)
	return g, err
}

// Groups returns every group.
func (s *Store) Groups() ([]Group, error) {
	var out []Group
	err := s.scanJSON('g', func(v []byte) error {
		var g Group
		if err := json.Unmarshal(v, &g); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// PutPeer remembers a peer, durably.
func (s *Store) PutPeer(p Peer) error {
	if len(p.ID) == 0 {
		return fmt.Errorf("%w: empty peer id", ErrInvalid)
	}
	return s.putJSON(key('p', p.ID), p)
}

// Peers returns every remembered peer.
func (s *Store) Peers() ([]Peer, error) {
	var out []Peer
	err := s.scanJSON('p', func(v []byte) error {
		var p Peer
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// PutBootstrapPeers replaces the remembered DHT bootstrap candidates (one
// small list, written at once), durably. Order is kept: the node stores the
// most recently seen first.
func (s *Store) PutBootstrapPeers(ps []Peer) error {
	for _, p := range ps {
		if len(p.ID) == 0 {
			return fmt.Errorf("%w: empty peer id", ErrInvalid)
		}
	}
	if ps == nil {
		ps = []Peer{}
	}
	return s.putJSON(key('b'), ps)
}

// BootstrapPeers returns the remembered DHT bootstrap candidates in the order
// stored, or none.
func (s *Store) BootstrapPeers() ([]Peer, error) {
	var out []Peer
	err := s.getJSON(key('b'), &out)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return out, err
}

// PutSetting stores a named profile setting, durably.
func (s *Store) PutSetting(name string, v []byte) error {
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(key('s', []byte(name)), v) }); err != nil {
		return err
	}
	return s.sync()
}

// Setting returns a named setting or ErrNotFound.
func (s *Store) Setting(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('s', []byte(name)))
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

func (s *Store) putJSON(k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(k, b) }); err != nil {
		return err
	}
	return s.sync()
}

func (s *Store) getJSON(k []byte, v any) error {
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}

func (s *Store) scanJSON(prefix byte, fn func([]byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix, '/'}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := it.Item().Value(fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// Member is an author seen in a group, with the name it announced.
type Member struct {
	Author      []byte `json:"author"`
	DisplayName string `json:"display_name,omitempty"`
	FirstSeenMs int64  `json:"first_seen_ms"`
}

// PutMember records or updates a group member, durably.
func (s *Store) PutMember(g GroupID, m Member) error {
	if len(m.Author) == 0 || len(m.Author) > maxAuthorLen {
		return fmt.Errorf("%w: author length %d", ErrInvalid, len(m.Author))
	}
	defer s.membershipVer.Add(1) // see MembershipVersion
	return s.putJSON(key('u', g[:], m.Author), m)
}

// Members returns every member recorded for g.
func (s *Store) Members(g GroupID) ([]Member, error) {
	var out []Member
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('u', g[:]), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m Member
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &m) }); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
