package node

import (
	"sync"

	"github.com/parley-chat/parley/store"
)

// groupCache keeps one derived value per group (shown names, a replayed
// membership log) with the store's membership version it was derived at.
// The zero value is ready.
type groupCache[T any] struct {
	mu sync.Mutex
	m  map[store.GroupID]versioned[T]
}

type versioned[T any] struct {
	ver uint64
	v   T
}

func (c *groupCache[T]) get(g store.GroupID) (versioned[T], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[g]
	return e, ok
}

func (c *groupCache[T]) put(g store.GroupID, ver uint64, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[store.GroupID]versioned[T]{}
	}
	c.m[g] = versioned[T]{ver: ver, v: v}
}
