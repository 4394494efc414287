package node

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
)

// Event types.
const (
	EventMessage = "message" // a message was stored (sent or received)
	EventPeer    = "peer"    // a peer connected or disconnected
	EventSync    = "sync"    // sync progress with a peer
	EventGroup   = "group"   // a group was created or joined
	EventUpdate  = "update"  // a message's reactions, edits or deleted state changed: Message is its new state
)

// Event is something front ends may want to show as it happens.
type Event struct {
	Type    string        `json:"type"`
	Group   string        `json:"group,omitempty"`
	Message *Message      `json:"message,omitempty"`
	Peer    *PeerEvent    `json:"peer,omitempty"`
	Sync    *SyncProgress `json:"sync,omitempty"`
	File    *FileProgress `json:"file,omitempty"` // EventFile (files.go)
	// Backfill marks a message that arrived through history sync rather than
	// live gossip: a front end may summarise a long catch-up instead of
	// showing each message as new.
	Backfill bool `json:"backfill,omitempty"`
}

// PeerEvent reports a connection change.
type PeerEvent struct {
	ID        string `json:"id"`
	Connected bool   `json:"connected"`
}

// eventBufSize is each subscriber's buffer; a subscriber that falls that far
// behind loses events (counted) rather than stalling the node. Messages are
// never lost to it: they are in the store.
const eventBufSize = 4096

type events struct {
	mu      sync.Mutex
	next    int
	subs    map[int]chan Event
	closed  bool
	dropped atomic.Uint64
}

func (e *events) init() { e.subs = map[int]chan Event{} }

func (e *events) publish(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.subs {
		select {
		case ch <- ev:
		default:
			e.dropped.Add(1)
		}
	}
}

// active reports whether anyone listens, so callers can skip building events.
func (e *events) active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs) > 0
}

func (e *events) subscribe() (<-chan Event, func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan Event, eventBufSize)
	if e.closed {
		close(ch)
		return ch, func() {}
	}
	id := e.next
	e.next++
	e.subs[id] = ch
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if c, ok := e.subs[id]; ok {
			delete(e.subs, id)
			close(c)
		}
	}
}

func (e *events) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for id, ch := range e.subs {
		delete(e.subs, id)
		close(ch)
	}
}

// Subscribe returns a channel of events and a function to stop them. The
// channel closes when the node closes.
func (n *Node) Subscribe() (<-chan Event, func()) { return n.events.subscribe() }

// dropCounters counts refused network input per reason.
type dropCounters struct {
	mu     sync.Mutex
	counts map[string]uint64
}

var dropReasons = []error{ErrUnknownEpoch, ErrNotMemberNow, ErrUnknownAuthor, ErrOversized, ErrMalformed, ErrVersion, ErrNotMember, ErrWrongGroup, ErrBadSignature, ErrBadAuthor, ErrDuplicate, ErrBadField, ErrSyncDenied,
	ErrNotAllowed, ErrRichDeferred, envelope.ErrLamportJump, envelope.ErrLamportAhead, envelope.ErrBadTimestamp, envelope.ErrEquivocation, syncproto.ErrSeqGap, syncproto.ErrBusy, syncproto.ErrBeforeJoin, syncproto.ErrCut,
	ErrBadOffer, ErrBlockedContact, ErrDiskFull}

func (d *dropCounters) count(err error) {
	reason := "other"
	for _, r := range dropReasons {
		if errors.Is(err, r) {
			reason = r.Error()
			break
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = map[string]uint64{}
	}
	d.counts[reason]++
}

func (d *dropCounters) snapshot() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(d.counts))
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}
