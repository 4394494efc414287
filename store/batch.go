package store

import (
	"encoding/binary"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
)

// batchWriter is one transaction's worth of inserts plus the per-group and
// per-author state they update, kept in memory until commit.
type batchWriter struct {
	s                 *Store
	txn               *badger.Txn
	view              *badger.Txn // committed state, for forward scans of the author index
	count, size       int64
	maxCount, maxSize int64
	counts            map[GroupID]*groupCounter
	vectors           map[string]*vectorState
	heads             map[GroupID]*headSet
	gapsFilled        [][GroupIDLen + MessageIDLen]byte // gap markers this transaction deletes
	inserted          []recentEntry                     // ids this transaction writes (recent.go)
	postings          postingSet                        // the inserts' search postings, written as blocks at commit
}

// headSet is a group's heads, kept as one value (H/<gid>): a key per head
// would leave a deletion marker per message that every read scans past.
type headSet struct {
	ids   []MessageID // oldest first
	dirty bool
}

// maxHeads bounds the set; only a flood of concurrent branches reaches it,
// and dropping the oldest head only means no new message names it.
const maxHeads = 1024

func (h *headSet) add(id MessageID) {
	h.ids = append(h.ids, id)
	if len(h.ids) > maxHeads {
		h.ids = h.ids[len(h.ids)-maxHeads:]
	}
	h.dirty = true
}

func (h *headSet) remove(id MessageID) {
	for i, x := range h.ids {
		if x == id {
			h.ids = append(h.ids[:i], h.ids[i+1:]...)
			h.dirty = true
			return
		}
	}
}

func decodeHeads(v []byte) []MessageID {
	ids := make([]MessageID, 0, len(v)/MessageIDLen)
	for len(v) >= MessageIDLen {
		var id MessageID
		copy(id[:], v)
		ids = append(ids, id)
		v = v[MessageIDLen:]
	}
	return ids
}

func (w *batchWriter) headSet(g GroupID) (*headSet, error) {
	if h, ok := w.heads[g]; ok {
		return h, nil
	}
	h := &headSet{}
	if ids, ok := w.s.committed.headsOf(g); ok {
		h.ids = ids
		w.heads[g] = h
		return h, nil
	}
	item, err := w.txn.Get(key('H', g[:]))
	switch {
	case err == nil:
		if err := item.Value(func(v []byte) error { h.ids = decodeHeads(v); return nil }); err != nil {
			return nil, err
		}
	case errors.Is(err, badger.ErrKeyNotFound):
	default:
		return nil, err
	}
	w.heads[g] = h
	return h, nil
}

// vectorState is an author's contiguous prefix and the highest seq held.
type vectorState struct {
	key       []byte
	have, max uint64
	inBatch   map[uint64]bool
	dirty     bool
}

func (s *Store) newBatchWriter() *batchWriter {
	w := &batchWriter{s: s,
		// Leave room for the counter and vector keys written at commit.
		maxCount: s.db.MaxBatchCount() * 3 / 4, maxSize: s.db.MaxBatchSize() * 3 / 4}
	w.reset()
	return w
}

func (w *batchWriter) reset() {
	w.txn = w.s.db.NewTransaction(true)
	w.view = nil // opened when first needed (heldInView)
	w.count, w.size = 0, 0
	w.counts = map[GroupID]*groupCounter{}
	w.vectors = map[string]*vectorState{}
	w.heads = map[GroupID]*headSet{}
	w.gapsFilled = nil
	w.inserted = w.inserted[:0]
	w.postings = postingSet{}
}

func (w *batchWriter) commit() error {
	if err := w.postings.write(w.txn); err != nil {
		return err
	}
	if err := writeCounters(w.txn, w.counts); err != nil {
		return err
	}
	for g, h := range w.heads {
		if h.dirty {
			v := make([]byte, 0, len(h.ids)*MessageIDLen)
			for _, id := range h.ids {
				v = append(v, id[:]...)
			}
			if err := w.txn.Set(key('H', g[:]), v); err != nil {
				return err
			}
		}
	}
	for _, v := range w.vectors {
		if v.dirty {
			if err := w.txn.Set(v.key, append(u64(v.have), u64(v.max)...)); err != nil {
				return err
			}
		}
	}
	// The cached counters go before the commit makes the new heads
	// visible, and come back after: a reader between the two asks Badger,
	// never a clock older than heads it may already have read.
	for g := range w.counts {
		w.s.stats.drop(g)
	}
	w.s.committed.dropHeads(w.heads)
	if err := w.txn.Commit(); err != nil {
		return err
	}
	w.s.gaps.remove(w.gapsFilled)
	w.s.recent.add(w.inserted)
	w.s.committed.learn(w)
	for g, c := range w.counts {
		w.s.stats.put(g, Stats{Count: c.count, MaxLamport: c.maxLamport})
	}
	w.discard()
	return nil
}

// discard ends the writer's transactions; reset starts new ones.
func (w *batchWriter) discard() {
	w.txn.Discard()
	if w.view != nil {
		w.view.Discard()
	}
}

type groupCounter struct {
	count, maxLamport uint64
	deferMarked       bool // the group's deferred-index watermark is set (deferred.go)
}

func (w *batchWriter) counter(g GroupID) (*groupCounter, error) {
	if c, ok := w.counts[g]; ok {
		return c, nil
	}
	c := &groupCounter{deferMarked: w.s.committed.isMarked(g)}
	if st, ok := w.s.stats.get(g); ok {
		c.count, c.maxLamport = st.Count, st.MaxLamport
		w.counts[g] = c
		return c, nil
	}
	item, err := w.txn.Get(key('n', g[:]))
	switch {
	case err == nil:
		if err := item.Value(func(v []byte) error {
			if len(v) == 16 {
				c.count = binary.BigEndian.Uint64(v)
				c.maxLamport = binary.BigEndian.Uint64(v[8:])
			}
			return nil
		}); err != nil {
			return nil, err
		}
	case errors.Is(err, badger.ErrKeyNotFound):
	default:
		return nil, err
	}
	w.counts[g] = c
	return c, nil
}

func writeCounters(txn *badger.Txn, counts map[GroupID]*groupCounter) error {
	for g, c := range counts {
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, c.count)
		binary.BigEndian.PutUint64(v[8:], c.maxLamport)
		if err := txn.Set(key('n', g[:]), v); err != nil {
			return err
		}
	}
	return nil
}

// insert writes one message and its indexes unless its id is already held.
func (w *batchWriter) insert(m *Message) (bool, error) {
	txn := w.txn
	g := m.Group[:]
	idKey := key('i', g, m.ID[:])
	ids := w.s.ids.Load()
	if _, ok := w.s.recent.lamport(m.Group, m.ID); ok {
		return false, nil
	}
	if ids.mayContain(m.Group, m.ID) {
		if _, err := txn.Get(idKey); err == nil {
			return false, nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return false, err
		}
	}
	ids.add(m.Group, m.ID) // before the commit: the filter stays a superset
	c, err := w.counter(m.Group)
	if err != nil {
		return false, err
	}
	w.inserted = append(w.inserted, recentEntry{recentKey{m.Group, m.ID}, m.Lamport})
	lam := u64(m.Lamport)
	sets := []struct{ k, v []byte }{
		{key('m', g, lam, m.ID[:]), m.Raw},
		{idKey, lam},
		{key('a', g, authorKey(m.Author), u64(m.Seq), m.ID[:]), append(u64(m.Lamport), u64(uint64(m.TimeMs))...)},
	}
	for _, kv := range sets {
		if err := txn.Set(kv.k, kv.v); err != nil {
			return false, err
		}
	}
	for _, t := range m.Targets {
		if err := txn.Set(relationKey(m.Group, t, m.Lamport, m.ID), nil); err != nil {
			return false, err
		}
	}
	if err := w.indexTerms(m); err != nil {
		return false, err
	}
	heads, err := w.headSet(m.Group)
	if err != nil {
		return false, err
	}
	// Heads: a message is a head unless an earlier message named it as a
	// parent. A named parent we did not hold got a gap marker (w/), so the
	// marker says exactly that: if there is one, delete it (only then: a
	// delete always writes a tombstone, and Missing would scan past one per
	// message ever stored) and the message is not a head.
	named := false
	if w.s.gaps.has(m.Group, m.ID) {
		if _, err := txn.Get(key('w', g, m.ID[:])); err == nil {
			if err := txn.Delete(key('w', g, m.ID[:])); err != nil {
				return false, err
			}
			named = true
			w.gapsFilled = append(w.gapsFilled, gapKey(m.Group, m.ID))
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return false, err
		}
	}
	if !named && !m.erased { // no one is asked to name an erased message
		heads.add(m.ID)
	}
	for _, p := range m.Parents {
		heads.remove(p)
		_, held := w.s.recent.lamport(m.Group, p)
		if !held && ids.mayContain(m.Group, p) {
			if _, err := txn.Get(key('i', g, p[:])); err == nil {
				held = true
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return false, err
			}
		}
		if !held {
			w.s.gaps.add(m.Group, p) // before the commit: the set stays a superset
			if err := txn.Set(key('w', g, p[:]), nil); err != nil {
				return false, err
			}
		}
	}
	if err := w.advanceVector(m); err != nil {
		return false, err
	}
	c.count++
	arrival := append(lam, m.ID[:]...)
	if m.IndexLater {
		arrival = append(arrival, arrivalIndexLater)
		if err := w.markDeferred(c, m.Group, c.count); err != nil {
			return false, err
		}
	}
	if err := txn.Set(arrivalKey(m.Group, c.count), arrival); err != nil {
		return false, err
	}
	if m.Lamport > c.maxLamport {
		c.maxLamport = m.Lamport
	}
	return true, nil
}

// advanceVector moves the author's contiguous prefix past m.Seq and any
// later seqs already held. In-order appends cost O(1): the committed index
// is scanned only when seqs above the prefix are known to be held.
func (w *batchWriter) advanceVector(m *Message) error {
	g := m.Group[:]
	ak := authorKey(m.Author)
	vk := key('v', g, ak)
	v, ok := w.vectors[string(vk)]
	if !ok {
		v = &vectorState{key: vk, inBatch: map[uint64]bool{}}
		var found bool
		var err error
		if v.have, v.max, found, err = w.committedVector(vk); err != nil {
			return err
		}
		v.dirty = !found // a new author is listed, even at seq 0
		w.vectors[string(vk)] = v
	}
	committedMax := v.max
	v.inBatch[m.Seq] = true
	if m.Seq > v.max {
		v.max = m.Seq
		v.dirty = true
	}
	if m.Seq != v.have+1 {
		return nil
	}
	next := m.Seq
	for next < v.max {
		cand := next + 1
		if v.inBatch[cand] {
			next = cand
			continue
		}
		if cand > committedMax {
			break
		}
		held, err := w.heldInView(g, ak, cand)
		if err != nil {
			return err
		}
		if !held {
			break
		}
		next = cand
	}
	v.have = next
	v.dirty = true
	return nil
}

// committedVector is the author's committed vector entry (v/), from the
// cache or else from Badger.
func (w *batchWriter) committedVector(vk []byte) (have, max uint64, found bool, err error) {
	if have, max, ok := w.s.committed.vector(string(vk)); ok {
		return have, max, true, nil
	}
	item, err := w.txn.Get(vk)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return 0, 0, false, nil
	case err != nil:
		return 0, 0, false, err
	}
	err = item.Value(func(b []byte) error { have, max = decodeVector(b); return nil })
	return have, max, true, err
}

// heldInView reports whether the committed author index has seq.
func (w *batchWriter) heldInView(g, ak []byte, seq uint64) (bool, error) {
	if w.view == nil {
		w.view = w.s.db.NewTransaction(false)
	}
	prefix := key('a', g, ak, u64(seq))
	it := w.view.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Rewind()
	return it.Valid(), nil
}

func authorKey(author []byte) []byte {
	return append([]byte{byte(len(author))}, author...)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// key builds "<prefix>/<parts...>".
func key(prefix byte, parts ...[]byte) []byte {
	n := 2
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix, '/')
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}
