package store

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Erasing a body: the message stays held for sync (i/, a/, the author's
// vector, its place in the history) but its m/ value becomes erasedMarker,
// and every older version of that key is purged from Badger's files:
//
//	R/<gid><id> -> lamport:8   an erase in progress (finished again by Open)
//
// Badger keeps old versions of a key in the memtable, its WAL and the SST
// tables until compaction; DB.DropPrefix on the exact m/ key flushes the
// memtables without it and rewrites every table holding it. Values are kept
// inline (maxInlineValue), so no copy sits in the value log.

// An erased message's m/ value is empty: validate refuses an empty body.
func isErased(v []byte) bool { return len(v) == 0 }

// Erase removes the body of held message id of g from the store and its
// files; the message stays held (sync counts it, the history lists it as
// Erased). It reports whether a body was erased now (false: not held, or
// erased already). It is slow (it rewrites the tables holding the key and
// blocks writes meanwhile): for deletions, not bulk work.
func (s *Store) Erase(g GroupID, id MessageID, terms ...string) (bool, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false, ErrClosed
	}
	st, err := s.Get(g, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil || st.Erased {
		return false, err
	}
	if err := s.exclusive(func() error { return s.erase(g, id, st.Lamport, terms) }); err != nil {
		return false, err
	}
	return true, nil
}

// erase runs on the committer: DropPrefix blocks Badger's writes while it
// runs, and a message commit overlapping it would fail.
func (s *Store) erase(g GroupID, id MessageID, lamport uint64, terms []string) error {
	// Rewriting tables needs room: on a full disk the erase waits (the
	// tombstone that asked for it is refused too, and comes again by sync).
	if err := s.space.check(); err != nil {
		return err
	}
	pending := key('R', g[:], id[:])
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(pending, u64(lamport)) }); err != nil {
		return err
	}
	// The message's search postings name its words in their keys: they are
	// dropped from the files with the body (search.go).
	var extra [][]byte
	if len(terms) > 0 {
		// The postings leave their blocks (the other docs move to new keys);
		// the keys that held them are dropped with the body.
		var err error
		if extra, err = unindexTerms(s.db.Update, g, id, terms, true); err != nil {
			return err
		}
	}
	if err := s.purge(g, lamport, id, extra...); err != nil {
		return err
	}
	return s.sync()
}

// exclusive runs fn on the committer between two commits.
func (s *Store) exclusive(fn func() error) error {
	req := &commitReq{run: fn, done: make(chan error, 1)}
	s.commits <- req
	return <-req.done
}

// runExclusive runs and answers the batch's exclusive requests and returns
// the others.
func (s *Store) runExclusive(batch []*commitReq) []*commitReq {
	rest := batch[:0]
	for _, r := range batch {
		if r.run == nil {
			rest = append(rest, r)
			continue
		}
		r.done <- r.run()
	}
	return rest
}

// purge drops every version of the m/ key, writes the marker and clears the
// pending R/ key. Repeating it is harmless.
func (s *Store) purge(g GroupID, lamport uint64, id MessageID, extra ...[]byte) error {
	mk := key('m', g[:], u64(lamport), id[:])
	s.dropGate.Lock()
	defer s.dropGate.Unlock()
	if err := s.db.DropPrefix(append([][]byte{mk}, extra...)...); err != nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	return s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(mk, nil); err != nil {
			return err
		}
		return txn.Delete(key('R', g[:], id[:]))
	})
}

// finishErases completes erasures a crash interrupted.
func (s *Store) finishErases() error {
	type todo struct {
		g   GroupID
		lam uint64
		id  MessageID
	}
	var list []todo
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('R')})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != 2+GroupIDLen+MessageIDLen {
				continue
			}
			var t todo
			copy(t.g[:], k[2:])
			copy(t.id[:], k[2+GroupIDLen:])
			v, err := it.Item().ValueCopy(nil)
			if err != nil || len(v) != 8 {
				continue
			}
			t.lam = beU64(v)
			list = append(list, t)
		}
		return nil
	})
	for _, t := range list {
		if err == nil {
			err = s.purge(t.g, t.lam, t.id)
		}
	}
	return err
}

func beU64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// AppendErased records a message this node never held and whose body is
// already erased (a deletion reached it first): m's id, author, seq,
// lamport and time are indexed as for Append, so sync counts the seq held
// and a later copy of the message is a duplicate, never stored; m.Raw,
// Parents and Targets are ignored. It is never a head. It reports whether
// it was new.
func (s *Store) AppendErased(ctx context.Context, m Message) (bool, error) {
	m.Raw, m.Parents, m.Targets, m.erased = nil, nil, nil, true
	ins, err := s.append(ctx, false, []Message{m})
	if err != nil {
		return false, err
	}
	return ins[0], nil
}
