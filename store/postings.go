package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
)

// Posting blocks (schema 7). A term's postings are written a transaction at
// a time: every doc that one transaction indexes under a term goes into
// one key, not one key each.
//
//	q/<tlen:1><term><first:18>[<tag:4>]  -> <doc:18>*   a block
//
// first is the block's first doc; the value holds the others, in doc
// order, all after first. A block of one doc has no value and no tag, and
// is the posting of schema 4 to 6 unchanged. A block of several has a
// random tag, so two blocks that start with the same doc (a message indexed
// twice) never overwrite each other. Every doc of a block shares its
// first's bucket (its first bucketLen bytes: the same 65.5 seconds), so
// blocks of different buckets never interleave and a seek only has to
// look back to the start of its target's bucket.
//
// A catch-up's page or a batch of live messages shares most of its words,
// so a block holds many docs: where a posting cost a key of about 60 bytes
// in every memtable, WAL and table, a doc in a block costs its 18 bytes.
const (
	bucketLen     = 4   // doc bytes a block's docs share: ^time >> 16 (milliseconds)
	tagLen        = 4   // a block's uniqueness tag
	maxBlockDocs  = 256 // docs per block: what an erase rewrites at most per term
	blockValueMax = (maxBlockDocs - 1) * docLen
)

// postingSet gathers one transaction's postings by term; write turns them
// into blocks.
type postingSet struct {
	byTerm map[string][]byte // concatenated docs
}

func (p *postingSet) add(term string, doc []byte) {
	if p.byTerm == nil {
		p.byTerm = map[string][]byte{}
	}
	p.byTerm[term] = append(p.byTerm[term], doc...)
}

// blocks is about how many blocks write will set: one per term (more
// where a term's docs span buckets or exceed maxBlockDocs).
func (p *postingSet) blocks() int { return len(p.byTerm) }

// write sets the gathered postings as blocks and empties the set.
func (p *postingSet) write(txn *badger.Txn) error {
	for term, cat := range p.byTerm {
		docs := splitDocs(cat)
		slices.SortFunc(docs, bytes.Compare)
		docs = slices.CompactFunc(docs, bytes.Equal)
		if err := writeBlocks(txn, termPrefix(term), docs); err != nil {
			return err
		}
	}
	p.byTerm = nil
	return nil
}

func splitDocs(cat []byte) [][]byte {
	docs := make([][]byte, 0, len(cat)/docLen)
	for i := 0; i+docLen <= len(cat); i += docLen {
		docs = append(docs, cat[i:i+docLen:i+docLen])
	}
	return docs
}

// writeBlocks sets sorted, distinct docs under prefix as blocks: one per
// bucket, or more where a bucket has over maxBlockDocs.
func writeBlocks(txn *badger.Txn, prefix []byte, docs [][]byte) error {
	for len(docs) > 0 {
		n := 1
		for n < len(docs) && n < maxBlockDocs && bytes.Equal(docs[n][:bucketLen], docs[0][:bucketLen]) {
			n++
		}
		if err := setBlock(txn, prefix, docs[:n], nil); err != nil {
			return err
		}
		docs = docs[n:]
	}
	return nil
}

// setBlock sets docs (sorted, distinct, of one bucket, at most
// maxBlockDocs) as one block. A block of several docs gets a tag, one that
// makes its key differ from old when old is given.
func setBlock(txn *badger.Txn, prefix []byte, docs [][]byte, old []byte) error {
	k := append(append(make([]byte, 0, len(prefix)+docLen+tagLen), prefix...), docs[0]...)
	var v []byte
	if len(docs) > 1 {
		for {
			k = appendTag(k[:len(prefix)+docLen])
			if !bytes.Equal(k, old) {
				break
			}
		}
		v = make([]byte, 0, (len(docs)-1)*docLen)
		for _, d := range docs[1:] {
			v = append(v, d...)
		}
	}
	return txn.Set(k, v)
}

// appendTag appends a random tag: not a secret, only unlikely to repeat.
func appendTag(k []byte) []byte {
	t := rand.Uint32()
	return append(k, byte(t>>24), byte(t>>16), byte(t>>8), byte(t))
}

// errCorruptBlock is wrapped with the key of a block that does not decode.
var errCorruptBlock = fmt.Errorf("store: corrupt search block")

// decodeBlock returns a block's docs, first included, appended to dst.
// The key and value are checked: sorted, distinct docs of one bucket.
func decodeBlock(dst []byte, k []byte, plen int, v []byte) ([]byte, error) {
	rest := k[plen:]
	if (len(rest) != docLen && len(rest) != docLen+tagLen) || len(v)%docLen != 0 ||
		len(v) > blockValueMax || (len(rest) == docLen) != (len(v) == 0) {
		return dst, fmt.Errorf("%w: key %x, %d-byte value", errCorruptBlock, k, len(v))
	}
	first := rest[:docLen]
	prev := first
	for i := 0; i < len(v); i += docLen {
		d := v[i : i+docLen]
		if bytes.Compare(d, prev) <= 0 || !bytes.Equal(d[:bucketLen], first[:bucketLen]) {
			return dst, fmt.Errorf("%w: key %x, doc %d out of order", errCorruptBlock, k, i/docLen)
		}
		prev = d
	}
	dst = append(dst, first...)
	return append(dst, v...), nil
}

// blockDocs is an open block: its docs and the offset of the next one.
type blockDocs struct {
	docs []byte
	at   int
}

func (b *blockDocs) head() []byte { return b.docs[b.at : b.at+docLen] }

// skipTo moves b to its first doc at or after doc; false once none is left.
func (b *blockDocs) skipTo(doc []byte) bool {
	lo, hi := 0, (len(b.docs)-b.at)/docLen
	for lo < hi {
		m := (lo + hi) / 2
		if bytes.Compare(b.docs[b.at+m*docLen:b.at+(m+1)*docLen], doc) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	b.at += lo * docLen
	return b.at < len(b.docs)
}

// termCursor walks one term's docs in order, merging the blocks that
// overlap (only blocks of one bucket can). Invariant: every block whose
// first doc is at or before doc() is open, and the iterator is at the
// first block not opened.
type termCursor struct {
	it     *badger.Iterator
	prefix []byte
	open   []*blockDocs
	cur    []byte // nil once no doc is left
	nexts  int    // Next calls to try before a Seek
	err    error
}

func newTermCursor(txn *badger.Txn, term string) *termCursor {
	p := termPrefix(term)
	c := &termCursor{it: txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false}), prefix: p, nexts: 8}
	c.it.Rewind()
	c.settle(nil)
	return c
}

func (c *termCursor) close()      { c.it.Close() }
func (c *termCursor) valid() bool { return c.cur != nil }
func (c *termCursor) doc() []byte { return c.cur }

func (c *termCursor) firstOf() []byte {
	k := c.it.Item().Key()
	if len(k) < len(c.prefix)+docLen {
		return nil
	}
	return k[len(c.prefix) : len(c.prefix)+docLen]
}

// openBlock opens the iterator's block at its first doc at or after from
// (nil: its first) and moves the iterator on.
func (c *termCursor) openBlock(from []byte) {
	item := c.it.Item()
	err := item.Value(func(v []byte) error {
		docs, err := decodeBlock(make([]byte, 0, docLen+len(v)), item.Key(), len(c.prefix), v)
		if err != nil {
			return err
		}
		b := &blockDocs{docs: docs}
		if from == nil || b.skipTo(from) {
			c.open = append(c.open, b)
		}
		return nil
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.it.Next()
}

func (c *termCursor) fail(err error) {
	c.err, c.cur, c.open = err, nil, nil
}

// settle opens the blocks that may hold the next doc (from, when not nil,
// is a lower bound for them) and sets cur.
func (c *termCursor) settle(from []byte) {
	for c.err == nil && c.it.Valid() {
		first := c.firstOf()
		if first == nil {
			c.fail(fmt.Errorf("%w: key %x", errCorruptBlock, c.it.Item().Key()))
			return
		}
		if len(c.open) > 0 && bytes.Compare(first, c.minHead()) > 0 {
			break
		}
		c.openBlock(from)
	}
	if c.err != nil {
		return
	}
	c.cur = nil
	if len(c.open) > 0 {
		c.cur = c.minHead()
	}
}

func (c *termCursor) minHead() []byte {
	m := c.open[0].head()
	for _, b := range c.open[1:] {
		if h := b.head(); bytes.Compare(h, m) < 0 {
			m = h
		}
	}
	return m
}

// next moves past the current doc (every block holding it).
func (c *termCursor) next() {
	if c.cur == nil {
		return
	}
	cur := c.cur
	kept := c.open[:0]
	for _, b := range c.open {
		if bytes.Equal(b.head(), cur) {
			b.at += docLen
		}
		if b.at < len(b.docs) {
			kept = append(kept, b)
		}
	}
	clear(c.open[len(kept):])
	c.open = kept
	c.settle(nil)
}

// advance moves c to its first doc at or after doc. Blocks before doc's
// bucket are skipped by a few Next calls, then a Seek (which searches every
// level, about as costly as 30 Next calls) when the target is far; blocks
// of doc's own bucket that start before it are opened, since they may hold
// later docs.
func (c *termCursor) advance(doc []byte) {
	if c.cur == nil || c.err != nil {
		return
	}
	kept := c.open[:0]
	for _, b := range c.open {
		if b.skipTo(doc) {
			kept = append(kept, b)
		}
	}
	clear(c.open[len(kept):])
	c.open = kept
	steps, sought := 0, false
	for c.err == nil && c.it.Valid() {
		first := c.firstOf()
		if first == nil || bytes.Compare(first, doc) >= 0 {
			break
		}
		if bytes.Equal(first[:bucketLen], doc[:bucketLen]) {
			c.openBlock(doc)
			continue
		}
		if steps < c.nexts {
			steps++
			c.it.Next()
			continue
		}
		sought = true
		c.it.Seek(append(append(make([]byte, 0, len(c.prefix)+bucketLen), c.prefix...), doc[:bucketLen]...))
	}
	if sought {
		c.nexts = max(c.nexts/2, 1)
	} else {
		c.nexts = min(c.nexts+2, 16)
	}
	if c.err == nil {
		c.settle(doc)
	}
}

// unindexDoc removes doc from every block of term that holds it. A block
// that holds others too is replaced by a new block of them, under a new
// key, so that dropping the old key's versions from the files keeps them.
//
// With drop nil, the old keys are deleted. With drop not nil (an erase),
// they are left live and appended to drop, with every key an older version
// of which held doc (set live again): the caller drops them all from the
// files with DropPrefix, which skips a prefix that holds no live key.
func unindexDoc(txn *badger.Txn, term string, doc []byte, drop *[][]byte) error {
	prefix := termPrefix(term)
	type keyState struct {
		key         []byte
		rest        [][]byte // the newest version's other docs, when it holds doc
		newestLive  bool
		newestHolds bool
		heldIn      []byte // an older version's value that held doc, when the newest does not
		anyHolds    bool
	}
	var keys []*keyState
	err := func() error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true})
		defer it.Close()
		var ks *keyState
		for it.Seek(append(append([]byte(nil), prefix...), doc[:bucketLen]...)); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) < len(prefix)+docLen || bytes.Compare(k[len(prefix):len(prefix)+docLen], doc) > 0 {
				break
			}
			newest := ks == nil || !bytes.Equal(k, ks.key)
			if newest {
				ks = &keyState{key: item.KeyCopy(nil), newestLive: !item.IsDeletedOrExpired()}
				keys = append(keys, ks)
			}
			if item.IsDeletedOrExpired() {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			docs, err := decodeBlock(nil, k, len(prefix), v)
			if err != nil {
				return err
			}
			held := splitDocs(docs)
			i := slices.IndexFunc(held, func(d []byte) bool { return bytes.Equal(d, doc) })
			if i < 0 {
				continue
			}
			ks.anyHolds = true
			switch {
			case newest:
				ks.newestHolds, ks.rest = true, slices.Delete(held, i, i+1)
			case ks.heldIn == nil:
				ks.heldIn = v
			}
		}
		return nil
	}()
	if err != nil {
		return err
	}
	for _, ks := range keys {
		if ks.newestHolds && len(ks.rest) > 0 {
			if err := setBlock(txn, prefix, ks.rest, ks.key); err != nil {
				return err
			}
		}
		switch {
		case drop == nil:
			if ks.newestHolds {
				if err := txn.Delete(ks.key); err != nil {
					return err
				}
			}
		case ks.newestHolds:
			*drop = append(*drop, ks.key)
		case ks.anyHolds && !ks.newestLive:
			// Deleted since (an earlier unindex): live again for the drop.
			if err := txn.Set(ks.key, ks.heldIn); err != nil {
				return err
			}
			*drop = append(*drop, ks.key)
		}
	}
	return nil
}
