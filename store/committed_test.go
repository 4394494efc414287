package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestCommittedStateMatchesBadger runs one random history of appends
// (authors interleaved, seqs out of order and repeated, parents held and
// missing, deferred postings, batches large enough to span transactions)
// into two stores, one with the committed-state cache and one without, and
// checks after every step that both wrote the same heads, vectors,
// watermarks and counters, and that the cache agrees with Badger.
func TestCommittedStateMatchesBadger(t *testing.T) {
	cached, plain := openMem(t), openMem(t)
	plain.committed.close() // never learns: every commit reads Badger
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(16, 2026))
	groups := []GroupID{gidOf("cache-a"), gidOf("cache-b")}
	authors := []string{"ann", "ben", "cat"}
	next := map[string]uint64{}
	var held []MessageID
	n := uint64(0)
	noTerms := func(GroupID, Stored) IndexEntry { return IndexEntry{Terms: []string{"word"}} }

	for step := range 60 {
		size := 1 + rng.IntN(8)
		if step%15 == 14 {
			size = 1500 // more than one transaction
		}
		var batch []Message
		for range size {
			n++
			g := groups[rng.IntN(len(groups))]
			a := authors[rng.IntN(len(authors))]
			k := fmt.Sprintf("%x/%s", g[:4], a)
			next[k]++
			seq := next[k]
			if rng.IntN(5) == 0 && seq > 2 {
				seq -= uint64(1 + rng.IntN(2)) // a repeated seq: equivocation
			}
			var parents []MessageID
			if len(held) > 0 {
				parents = append(parents, held[rng.IntN(len(held))])
			}
			if rng.IntN(4) == 0 {
				parents = append(parents, idOf(1<<40+n)) // never held
			}
			m := mkMsg(g, n, a, seq, n, parents...)
			m.IndexLater = rng.IntN(2) == 0
			batch = append(batch, m)
		}
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		if rng.IntN(6) == 0 && len(held) > 0 {
			batch = append(batch, mkMsg(groups[0], 1, "ann", 1, 1)) // a duplicate
		}
		index := rng.IntN(3) == 0
		for _, s := range []*Store{cached, plain} {
			if _, err := s.Append(ctx, batch...); err != nil {
				t.Fatalf("step %d: Append: %v", step, err)
			}
			if index {
				if _, err := s.IndexDeferred(64, noTerms); err != nil {
					t.Fatalf("step %d: IndexDeferred: %v", step, err)
				}
			}
		}
		for _, m := range batch {
			held = append(held, m.ID)
		}
		for _, g := range groups {
			compareCommitted(t, step, g, cached, plain)
		}
	}
}

func compareCommitted(t *testing.T, step int, g GroupID, cached, plain *Store) {
	t.Helper()
	for _, prefix := range []byte{'H', 'v', 'y', 'n', 'w'} {
		a, b := keysUnder(t, cached, key(prefix, g[:])), keysUnder(t, plain, key(prefix, g[:]))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("step %d: %c/ keys differ with the cache:\n%v\nwithout:\n%v", step, prefix, a, b)
		}
	}
	hc, err := cached.Heads(g, maxHeads)
	if err != nil {
		t.Fatal(err)
	}
	fromBadger, err := cached.heads(g)
	if err != nil {
		t.Fatal(err)
	}
	var want []MessageID
	for i := len(fromBadger) - 1; i >= 0; i-- {
		want = append(want, fromBadger[i])
	}
	if len(hc) != len(want) || (len(want) > 0 && !reflect.DeepEqual(hc, want)) {
		t.Fatalf("step %d: Heads = %x, Badger holds %x", step, hc, want)
	}
	cached.committed.mu.Lock()
	defer cached.committed.mu.Unlock()
	for vk, v := range cached.committed.vectors {
		if !bytes.HasPrefix([]byte(vk), key('v', g[:])) {
			continue
		}
		var got [2]uint64
		err := cached.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get([]byte(vk))
			if err != nil {
				return err
			}
			return item.Value(func(b []byte) error {
				if len(b) != 16 {
					return errors.New("short vector value")
				}
				have, hi := decodeVector(b)
				got = [2]uint64{have, hi}
				return nil
			})
		})
		if err != nil || got != v {
			t.Fatalf("step %d: cached vector %x = %v, Badger %v (%v)", step, vk, v, got, err)
		}
	}
}

// keysUnder lists every key and value under prefix.
func keysUnder(t *testing.T, s *Store, prefix []byte) []string {
	t.Helper()
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%x=%x", it.Item().Key(), v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
