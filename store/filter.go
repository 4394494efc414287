package store

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// Most lookups on the receive path are for ids we do not hold: the replay
// check on every gossiped message, the duplicate and gap checks of every
// insert. Each one walked Badger's memtables and tables (about 12% of CPU
// under load). Two in-memory structures answer "certainly not" without
// Badger; a "maybe" still asks Badger, which stays the only authority.
//
// Both are kept supersets of what is on disk: an id is added before the
// transaction that writes it commits (a failed commit leaves only a false
// "maybe"), and a gap marker leaves the set only after its delete commits.

// idFilter is a Bloom filter over every stored (group, message id).
type idFilter struct {
	words    []atomic.Uint64
	mask     uint64 // bit count - 1 (a power of two)
	added    atomic.Int64
	capacity int64 // ids it was sized for; past that it is rebuilt larger
}

const (
	filterBitsPerID = 12 // with filterHashes: about 0.3% false "maybe" at capacity
	filterHashes    = 7
	filterMinIDs    = 1 << 16
)

func newIDFilter(capacity int64) *idFilter {
	capacity = max(capacity, filterMinIDs)
	nbits := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerID)-1)
	return &idFilter{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1, capacity: capacity}
}

// probes derives the filter positions from the id itself: ids are SHA-256
// digests, so their bytes are already uniformly spread; the group id is
// mixed in so the same id in two groups is two entries.
func probes(g GroupID, id MessageID) (h1, h2 uint64) {
	h1 = binary.LittleEndian.Uint64(id[0:8]) ^ binary.LittleEndian.Uint64(g[0:8])
	h2 = binary.LittleEndian.Uint64(id[8:16]) ^ binary.LittleEndian.Uint64(g[8:16]) | 1
	return h1, h2
}

func (f *idFilter) add(g GroupID, id MessageID) {
	h1, h2 := probes(g, id)
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & f.mask
		f.words[b/64].Or(1 << (b % 64))
	}
	f.added.Add(1)
}

func (f *idFilter) mayContain(g GroupID, id MessageID) bool {
	h1, h2 := probes(g, id)
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & f.mask
		if f.words[b/64].Load()&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *idFilter) full() bool { return f.added.Load() > f.capacity }

// buildIDFilter sizes a filter for twice the ids stored and fills it: two
// key-only scans, so that no list of ids is held in memory.
func buildIDFilter(db *badger.DB) (*idFilter, error) {
	const idKeyLen = 2 + GroupIDLen + MessageIDLen
	var n int64
	if err := scanKeys(db, 'i', func(k []byte) {
		if len(k) == idKeyLen {
			n++
		}
	}); err != nil {
		return nil, err
	}
	f := newIDFilter(2 * n)
	err := scanKeys(db, 'i', func(k []byte) {
		if len(k) == idKeyLen {
			f.add(GroupID(k[2:2+GroupIDLen]), MessageID(k[2+GroupIDLen:]))
		}
	})
	return f, err
}

// scanKeys calls fn with every key under prefix (keys only: no values read).
func scanKeys(db *badger.DB, prefix byte, fn func(k []byte)) error {
	return db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix, '/'}, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			fn(it.Item().Key())
		}
		return nil
	})
}

// gapSet holds the ids under a gap marker (w/): parents named by a stored
// message that we do not hold. It is small: only what sync has yet to fill.
type gapSet struct {
	mu sync.Mutex
	m  map[[GroupIDLen + MessageIDLen]byte]struct{}
}

func gapKey(g GroupID, id MessageID) (k [GroupIDLen + MessageIDLen]byte) {
	copy(k[:], g[:])
	copy(k[GroupIDLen:], id[:])
	return k
}

func loadGapSet(db *badger.DB) (*gapSet, error) {
	s := &gapSet{m: map[[GroupIDLen + MessageIDLen]byte]struct{}{}}
	err := scanKeys(db, 'w', func(k []byte) {
		if len(k) == 2+GroupIDLen+MessageIDLen {
			s.m[[GroupIDLen + MessageIDLen]byte(k[2:])] = struct{}{}
		}
	})
	return s, err
}

func (s *gapSet) add(g GroupID, id MessageID) {
	s.mu.Lock()
	s.m[gapKey(g, id)] = struct{}{}
	s.mu.Unlock()
}

func (s *gapSet) has(g GroupID, id MessageID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[gapKey(g, id)]
	return ok
}

func (s *gapSet) remove(keys [][GroupIDLen + MessageIDLen]byte) {
	s.mu.Lock()
	for _, k := range keys {
		delete(s.m, k)
	}
	s.mu.Unlock()
}
