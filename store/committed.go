package store

import "sync"

// committedState holds what the batch writer reads at the start of every
// transaction, as last committed: each group's heads (H/), each author's
// vector entry (v/) and whether a group's deferred-index watermark (y/)
// exists. Live gossip commits one or two messages at a time, so without it
// every commit began with four Badger lookups (a quarter of the committer's
// CPU at 20 nodes and 100 msg/s). The counters (n/) are statsCache's. The
// vectors also answer AtSeq's common case, a new message's seq above every
// held one, without a Badger transaction (the validator and the commit each
// ask once per received message).
//
// Only the batch writer writes H/ and v/, and it fills the cache only after
// its transaction commits, so a failed commit leaves the cache at what
// Badger holds. y/ is also moved by IndexDeferred, which forgets the marks.
// A value the cache lacks is read from Badger.
type committedState struct {
	mu      sync.Mutex
	heads   map[GroupID][]MessageID // oldest first, as stored
	vectors map[string][2]uint64    // vector key -> contiguous prefix, highest seq
	marked  map[GroupID]bool        // y/<gid> exists
	off     bool                    // the store is closed
}

// committedVectorCap bounds the authors remembered (over all groups); past
// it the vectors start again empty.
const committedVectorCap = 1 << 16

func (c *committedState) headsOf(g GroupID) ([]MessageID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.heads[g]
	if !ok {
		return nil, false
	}
	return append([]MessageID(nil), ids...), true // the caller edits its copy
}

func (c *committedState) vector(vk string) (have, max uint64, ok bool) {
	c.mu.Lock()
	v, ok := c.vectors[vk]
	c.mu.Unlock()
	return v[0], v[1], ok
}

func (c *committedState) isMarked(g GroupID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marked[g]
}

// dropHeads forgets the groups' heads before a commit that may change them,
// so a reader between the commit and learn asks Badger.
func (c *committedState) dropHeads(groups map[GroupID]*headSet) {
	c.mu.Lock()
	for g := range groups {
		delete(c.heads, g)
	}
	c.mu.Unlock()
}

// learn records a committed transaction's state.
func (c *committedState) learn(w *batchWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return
	}
	if c.heads == nil {
		c.heads = map[GroupID][]MessageID{}
		c.marked = map[GroupID]bool{}
	}
	for g, h := range w.heads {
		c.heads[g] = append([]MessageID(nil), h.ids...)
	}
	if c.vectors == nil || len(c.vectors)+len(w.vectors) > committedVectorCap {
		c.vectors = make(map[string][2]uint64, len(w.vectors))
	}
	for k, v := range w.vectors {
		c.vectors[k] = [2]uint64{v.have, v.max}
	}
	for g, cnt := range w.counts {
		if cnt.deferMarked {
			c.marked[g] = true
		}
	}
}

// forgetMarks is called on the committer by IndexDeferred, which moves or
// deletes watermarks.
func (c *committedState) forgetMarks() {
	c.mu.Lock()
	clear(c.marked)
	c.mu.Unlock()
}

func (c *committedState) close() {
	c.mu.Lock()
	c.heads, c.vectors, c.marked, c.off = nil, nil, nil, true
	c.mu.Unlock()
}
