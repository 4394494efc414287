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
