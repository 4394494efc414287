package node

import (
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/searchterms"
	"github.com/parley-chat/parley/store"
)

// Received messages are stored without their search postings
// (store.Message.IndexLater): the postings are most of a message's keys
// (one per distinct word), so a message is on screen before its words are
// indexed, and a node back from offline has its history sooner. The indexer
// writes them a step at a time: once a sync has paused, and within
// indexLaterLinger of live messages (gossip), so that one step indexes
// several commits' worth. A search first indexes whatever is still waiting
// (backfillSearch), so its results are always complete. A node's own
// messages are indexed as they are stored.

const (
	// indexLaterStep is how many arrivals one indexing transaction reads
	// (store.IndexDeferred also caps the keys it writes): it runs between
	// two commits, so it holds live messages back only briefly.
	indexLaterStep = 256
	// indexLaterQuiet is how long after the latest synced commit the
	// indexer waits, so it does not slow the catch-up it follows.
	indexLaterQuiet = 200 * time.Millisecond
	// indexLaterLinger is how long after live messages arrive the indexer
	// waits to gather more of them into one step.
	indexLaterLinger = 100 * time.Millisecond
)

// indexer is the node's deferred-indexing state.
type indexer struct {
	wake       chan struct{} // 1-buffered: work may be waiting
	lastSynced atomic.Int64  // unix nanoseconds of the latest synced commit
	live       atomic.Bool   // live messages are waiting: linger first
}

func newIndexer() indexer { return indexer{wake: make(chan struct{}, 1)} }

// synced notes a commit of synced messages and wakes the indexer.
func (x *indexer) synced(now time.Time) {
	x.lastSynced.Store(now.UnixNano())
	x.kick()
}

// received notes a commit of live messages and wakes the indexer.
func (x *indexer) received() {
	x.live.Store(true)
	x.kick()
}

func (x *indexer) kick() { kick(x.wake) }

// indexLoop writes deferred postings whenever a sync has stored messages
// and then gone quiet for indexLaterQuiet, and indexLaterLinger after live
// messages; it also clears what a previous run left (a crash mid-way) at
// start.
func (n *Node) indexLoop() {
	n.idx.kick()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.idx.wake:
		}
		if n.idx.live.Swap(false) && !n.pause(indexLaterLinger) {
			return
		}
		for n.ctx.Err() == nil {
			if wait := time.Until(time.Unix(0, n.idx.lastSynced.Load()).Add(indexLaterQuiet)); wait > 0 {
				if !n.pause(wait) {
					return
				}
				continue
			}
			done, err := n.Local.indexDeferred(indexLaterStep)
			if err != nil {
				n.log.Warn("search: deferred indexing", "err", err)
				break // the next synced commit tries again
			}
			if done {
				break
			}
		}
	}
}

// indexDeferred writes the postings of up to step deferred messages.
func (l *Local) indexDeferred(step int) (done bool, err error) {
	l.searchMu.Lock()
	defer l.searchMu.Unlock()
	return l.st.IndexDeferred(step, indexEntryOf)
}

// indexEntryOf is a stored message's search terms (none for an erased
// body, which is empty). Stored bytes were verified on the way in, so only
// the body and the time are decoded (envelope.PeekBody).
func indexEntryOf(_ store.GroupID, st store.Stored) store.IndexEntry {
	body, timeMs, ok := envelope.PeekBody(st.Raw)
	if !ok {
		return store.IndexEntry{}
	}
	terms, of := searchterms.ForBody(body)
	return store.IndexEntry{Terms: terms, Of: of, TimeMs: timeMs}
}
