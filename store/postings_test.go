package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// countPostings counts the docs held by every live posting block.
func countPostings(t testing.TB, db *badger.DB) (docs, blocks int) {
	t.Helper()
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('q')})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			plen := 3 + int(k[2])
			err := it.Item().Value(func(v []byte) error {
				d, err := decodeBlock(nil, k, plen, v)
				docs += len(d) / docLen
				return err
			})
			if err != nil {
				return err
			}
			blocks++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, blocks
}

// testDoc is a doc of the given time (ms) and a ref made of n.
func testDoc(timeMs int64, n int) []byte {
	var g GroupID
	var id MessageID
	g[0], id[0], id[1] = byte(n>>16), byte(n>>8), byte(n)
	return docKey(timeMs, g, id)
}

// walkTerm reads every doc of term through a termCursor.
func walkTerm(t *testing.T, db *badger.DB, term string) [][]byte {
	t.Helper()
	var out [][]byte
	err := db.View(func(txn *badger.Txn) error {
		c := newTermCursor(txn, term)
		defer c.close()
		for ; c.valid(); c.next() {
			out = append(out, bytes.Clone(c.doc()))
		}
		return c.err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPostingBlocksMerge writes one term's docs in many transactions whose
// blocks overlap (as a catch-up's pages and live messages do, and a message
// indexed twice), and checks that a cursor reads them in order, each once,
// and that advance lands on the first doc at or after any target.
func TestPostingBlocksMerge(t *testing.T) {
	db := openRawDB(t)
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]bool{}
	for range 40 {
		err := db.Update(func(txn *badger.Txn) error {
			var ps postingSet
			for range 1 + r.IntN(300) {
				// Three buckets of 65.5 s, docs spread over all of them.
				d := testDoc(int64(r.IntN(3*65536)), r.IntN(2000))
				ps.add("word", d)
				ps.add("other", d)
				want[string(d)] = true
			}
			return ps.write(txn)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var sorted [][]byte
	for d := range want {
		sorted = append(sorted, []byte(d))
	}
	slices.SortFunc(sorted, bytes.Compare)
	got := walkTerm(t, db, "word")
	if !slices.EqualFunc(got, sorted, bytes.Equal) {
		t.Fatalf("cursor read %d docs, want %d distinct in order", len(got), len(sorted))
	}
	docs, blocks := countPostings(t, db)
	if blocks >= docs/4 {
		t.Fatalf("%d blocks for %d postings: not gathered", blocks, docs)
	}
	// advance, from a fresh cursor and from one part-way, to targets that are
	// and are not docs.
	err := db.View(func(txn *badger.Txn) error {
		for range 300 {
			target := testDoc(int64(r.IntN(3*65536)), r.IntN(2000))
			if r.IntN(2) == 0 {
				target = sorted[r.IntN(len(sorted))]
			}
			i, _ := slices.BinarySearchFunc(sorted, target, bytes.Compare)
			c := newTermCursor(txn, "word")
			if skip := r.IntN(3); skip > 0 && i > 0 {
				c.advance(sorted[r.IntN(i)])
			}
			c.advance(target)
			switch {
			case c.err != nil:
				c.close()
				return c.err
			case i == len(sorted) && c.valid():
				t.Fatalf("advance past the end found %x", c.doc())
			case i < len(sorted) && (!c.valid() || !bytes.Equal(c.doc(), sorted[i])):
				t.Fatalf("advance(%x) = %x, want %x", target, c.doc(), sorted[i])
			}
			c.close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUnindexDocFromBlock removes docs from shared blocks: the others stay
// found, and every key that ever held the removed doc is reported for
// dropping, while no key that still holds another doc is.
func TestUnindexDocFromBlock(t *testing.T) {
	db := openRawDB(t)
	var docs [][]byte
	for i := range 5 {
		docs = append(docs, testDoc(1000+int64(i), i))
	}
	write := func(ds ...[]byte) {
		t.Helper()
		if err := db.Update(func(txn *badger.Txn) error {
			var ps postingSet
			for _, d := range ds {
				ps.add("w", d)
			}
			return ps.write(txn)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write(docs...)
	write(docs[1], docs[3]) // indexed twice: a second block with docs[1] first
	write(docs[2])          // a block of one (no tag)
	for _, gone := range [][]byte{docs[1], docs[2], docs[0]} {
		var drop [][]byte
		if err := db.Update(func(txn *badger.Txn) error { return unindexDoc(txn, "w", gone, &drop) }); err != nil {
			t.Fatal(err)
		}
		if len(drop) == 0 {
			t.Fatalf("no key reported for %x", gone)
		}
		if err := db.DropPrefix(drop...); err != nil {
			t.Fatal(err)
		}
		// No version of any key holds the doc any more.
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: key('q'), AllVersions: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if bytes.Contains(k, gone) || bytes.Contains(v, gone) {
					t.Fatalf("key %x still holds %x after the drop", k, gone)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := walkTerm(t, db, "w"); !slices.EqualFunc(got, [][]byte{docs[4], docs[3]}, bytes.Equal) {
		t.Fatalf("left %x, want docs 4 and 3", got)
	}
	// Unindex (no erase) deletes the block and moves the rest to a new one.
	if err := db.Update(func(txn *badger.Txn) error { return unindexDoc(txn, "w", docs[3], nil) }); err != nil {
		t.Fatal(err)
	}
	if got := walkTerm(t, db, "w"); !slices.EqualFunc(got, [][]byte{docs[4]}, bytes.Equal) {
		t.Fatalf("left %x, want doc 4", got)
	}
}

// TestCorruptBlockRefused: a block that does not decode fails the search
// with an error, never a panic or a wrong result.
func TestCorruptBlockRefused(t *testing.T) {
	db := openRawDB(t)
	d1, d2 := testDoc(5, 1), testDoc(9, 2)
	bad := [][2][]byte{
		{append(append(termPrefix("w"), d1...), 1, 2, 3, 4), d2},                  // out of order
		{append(termPrefix("w"), d1...), d2},                                      // a value without a tag
		{append(append(termPrefix("w"), d1...), 1, 2, 3, 4), d2[:10]},             // a cut doc
		{append(append(termPrefix("w"), testDoc(200_000, 3)...), 1, 2, 3, 4), d1}, // another bucket
		{append(termPrefix("w"), d1[:7]...), nil},                                 // a cut key
	}
	for i, kv := range bad {
		if err := db.DropPrefix(key('q')); err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(kv[0], kv[1]) }); err != nil {
			t.Fatal(err)
		}
		err := db.View(func(txn *badger.Txn) error {
			c := newTermCursor(txn, "w")
			defer c.close()
			for ; c.valid(); c.next() {
			}
			return c.err
		})
		if !errors.Is(err, errCorruptBlock) {
			t.Errorf("case %d: err = %v, want a corrupt block", i, err)
		}
	}
}

func FuzzDecodeBlock(f *testing.F) {
	p := termPrefix("w")
	d1, d2 := testDoc(5, 1), testDoc(9, 2)
	f.Add(append(append(bytes.Clone(p), d1...), 1, 2, 3, 4), d2)
	f.Add(append(bytes.Clone(p), d1...), []byte{})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if !bytes.HasPrefix(k, p) {
			return
		}
		docs, err := decodeBlock(nil, k, len(p), v)
		if err != nil {
			return
		}
		if len(docs)%docLen != 0 || len(docs) == 0 {
			t.Fatalf("decoded %d bytes", len(docs))
		}
		for i := docLen; i < len(docs); i += docLen {
			if bytes.Compare(docs[i-docLen:i], docs[i:i+docLen]) >= 0 {
				t.Fatal("docs out of order")
			}
		}
	})
}

// openRawDB is a plain Badger on disk for the block code, which takes a
// transaction and knows nothing of the store around it.
func openRawDB(t *testing.T) *badger.DB {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
