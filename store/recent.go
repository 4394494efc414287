package store

import "sync"

// recentIDs remembers the Lamport clocks of the last messages committed.
// The receive path asks for the clock of every parent a message names, in
// the validator and again in the commit, and parents are almost always
// among the newest messages: each lookup was a Badger read (memtable
// skiplist and table probes). Only committed ids enter, so a hit is as
// true as Badger's answer; a miss still asks Badger.
type recentIDs struct {
	mu   sync.Mutex
	m    map[recentKey]uint64
	ring []recentKey
	next int
	off  bool // the store is closed: Badger answers (with ErrClosed)
}

type recentKey struct {
	g  GroupID
	id MessageID
}

// recentCap is a few seconds of a busy group's traffic (about 600 KB).
const recentCap = 4096

func newRecentIDs() *recentIDs {
	return &recentIDs{m: make(map[recentKey]uint64, recentCap), ring: make([]recentKey, 0, recentCap)}
}

func (r *recentIDs) lamport(g GroupID, id MessageID) (uint64, bool) {
	r.mu.Lock()
	lam, ok := r.m[recentKey{g, id}]
	r.mu.Unlock()
	return lam, ok
}

// add records committed messages, evicting the oldest beyond recentCap.
func (r *recentIDs) add(entries []recentEntry) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off {
		return
	}
	for _, e := range entries {
		if _, ok := r.m[e.k]; ok {
			continue
		}
		if len(r.ring) < recentCap {
			r.ring = append(r.ring, e.k)
		} else {
			delete(r.m, r.ring[r.next])
			r.ring[r.next] = e.k
			r.next = (r.next + 1) % recentCap
		}
		r.m[e.k] = e.lamport
	}
}

// close empties the cache for good.
func (r *recentIDs) close() {
	r.mu.Lock()
	r.m, r.ring, r.off = map[recentKey]uint64{}, nil, true
	r.mu.Unlock()
}

type recentEntry struct {
	k       recentKey
	lamport uint64
}

// statsCache holds each group's counters as last committed, so the
// validator's clock bound (GroupStats, once per gossiped message) reads no
// Badger key. Only the batch writer writes the counters: it drops a group's
// entry before its transaction commits and puts the new one after.
type statsCache struct {
	mu  sync.Mutex
	m   map[GroupID]Stats
	off bool // the store is closed
}

func (c *statsCache) get(g GroupID) (Stats, bool) {
	c.mu.Lock()
	st, ok := c.m[g]
	c.mu.Unlock()
	return st, ok
}

func (c *statsCache) put(g GroupID, st Stats) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[GroupID]Stats{}
	}
	if !c.off {
		c.m[g] = st
	}
	c.mu.Unlock()
}

func (c *statsCache) drop(g GroupID) {
	c.mu.Lock()
	delete(c.m, g)
	c.mu.Unlock()
}

func (c *statsCache) close() {
	c.mu.Lock()
	c.m, c.off = nil, true
	c.mu.Unlock()
}

// seqCache holds, per group and author (keyed by the vector key), the
// highest seq committed, so AtSeq answers its common case, a new message's
// seq above every held one, without a Badger transaction (the validator
// and the commit each ask once per received message). Only the batch
// writer fills it, after its commit, and only upward: it is never above
// what Badger holds, and an author it lacks is read from Badger.
type seqCache struct {
	mu  sync.Mutex
	m   map[string]uint64
	off bool
}

// seqCacheCap bounds the authors remembered (over all groups); past it the
// cache starts again empty.
const seqCacheCap = 1 << 16

func (c *seqCache) max(vk []byte) (uint64, bool) {
	c.mu.Lock()
	v, ok := c.m[string(vk)]
	c.mu.Unlock()
	return v, ok
}

func (c *seqCache) raise(vectors map[string]*vectorState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return
	}
	if c.m == nil || len(c.m)+len(vectors) > seqCacheCap {
		c.m = make(map[string]uint64, len(vectors))
	}
	for k, v := range vectors {
		if old, ok := c.m[k]; !ok || v.max > old {
			c.m[k] = v.max
		}
	}
}

func (c *seqCache) close() {
	c.mu.Lock()
	c.m, c.off = nil, true
	c.mu.Unlock()
}
