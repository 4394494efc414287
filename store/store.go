package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Errors returned by the store.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid means the caller passed a record the store cannot hold.
	ErrInvalid = errors.New("store: invalid record")
)

// Sizes of the fixed-length identifiers.
const (
	GroupIDLen   = 16
	MessageIDLen = 32
	maxAuthorLen = 255
	// maxInlineValue keeps messages inline in the LSM tree (open.go); the
	// largest envelope is 64 KiB.
	maxInlineValue = 128 << 10
	maxRawLen      = 1<<20 - 1 // below Badger's largest inline value, so in-memory stores hold any message
	maxParents     = 256
	maxTargets     = 4
	// maxBatch bounds one commit transaction; larger appends are split.
	maxBatch = 1024
)

// GroupID identifies a group locally and on the wire.
type GroupID [GroupIDLen]byte

// MessageID is the hash of a message's signed bytes.
type MessageID [MessageIDLen]byte

// Message is what the store needs to index a verified message. Raw is kept
// as is and handed back on reads.
type Message struct {
	Group   GroupID
	ID      MessageID
	Author  []byte
	Seq     uint64
	Lamport uint64
	TimeMs  int64
	Parents []MessageID
	// Targets are the earlier messages this one acts on (a reaction's,
	// edit's or vote's target): indexed so Related finds them. The store
	// gives them no meaning.
	Targets []MessageID
	// Terms are the words search finds this message by (search.go), made
	// by the caller; with TermsOf set (an edit) a match shows that message.
	Terms   []string
	TermsOf MessageID
	// IndexLater stores the message without its postings (Terms is
	// ignored): IndexDeferred writes them later (deferred.go).
	IndexLater bool
	Raw        []byte
	// erased: held for sync (index, vector) but with no body (erase.go).
	erased bool
}

// Stored is a message as read back: its ordering key and raw bytes.
type Stored struct {
	ID      MessageID
	Lamport uint64
	Raw     []byte
	// Erased: the body was erased (Erase, AppendErased); Raw is nil.
	Erased bool
}

// AuthorSeq is one entry of a per-author sequence vector.
type AuthorSeq struct {
	Author []byte
	Seq    uint64
}

// Store is an open Parley database.
type Store struct {
	db  *badger.DB
	log *slog.Logger

	commits chan *commitReq
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	closeMu sync.RWMutex
	closed  bool

	syncEvery time.Duration
	unsynced  atomic.Bool // AppendReceived wrote since the last fsync
	logs      *logSyncer  // every memtable log, for sync (walsync.go); nil in memory

	ids       atomic.Pointer[idFilter] // "certainly not stored" without Badger (filter.go)
	gaps      *gapSet                  // ids under a gap marker (filter.go)
	recent    *recentIDs               // clocks of the newest committed ids (recent.go)
	stats     statsCache               // committed counters per group (recent.go)
	committed committedState           // what each commit starts from (committed.go)

	membershipVer atomic.Uint64 // bumped by every membership write (membership.go)
	lastSync      time.Time     // end of the last durable commit (committer only)

	encrypted bool
	space     *spaceGuard  // nil in memory
	dropGate  sync.RWMutex // held by an erase's DropPrefix; update waits on it (space.go)
}

// Encrypted reports whether the store is encrypted at rest (WithPassphrase).
func (s *Store) Encrypted() bool { return s.encrypted }

// Close flushes and closes the store. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.stop)
		s.wg.Wait()
		s.recent.close()
		s.stats.close()
		s.committed.close()
		if s.unsynced.Load() {
			err = s.sync()
		}
		s.logs.close()
		err = errors.Join(err, s.db.Close())
	})
	return err
}

type commitReq struct {
	msgs     []Message
	inserted []bool
	durable  bool // fsync before answering
	done     chan error
	run      func() error // instead of msgs: work no commit may overlap (erase.go)
}

// Append stores msgs durably and reports, per message, whether it was new
// (false: the same id was already stored, so nothing was written). It returns
// only after the batch is fsynced. Use it for what only this node holds:
// its own messages, acknowledged to the user once Append returns.
func (s *Store) Append(ctx context.Context, msgs ...Message) ([]bool, error) {
	return s.append(ctx, true, msgs)
}

// AppendReceived stores msgs received from peers. They are committed and
// readable when it returns, and survive a crash of this process (Badger has
// written them to its log), but the fsync that protects them against a power
// cut or kernel crash comes within the store's sync interval or with the next
// Append, whichever is first. The log is synced as a prefix, so a power cut
// loses only the newest received messages, never a middle one; sync fetches
// them again from the peers that hold them. Paying one fsync per received
// batch instead held every delivery behind the disk.
func (s *Store) AppendReceived(ctx context.Context, msgs ...Message) ([]bool, error) {
	return s.append(ctx, false, msgs)
}

func (s *Store) append(ctx context.Context, durable bool, msgs []Message) ([]bool, error) {
	for i := range msgs {
		if err := validate(&msgs[i]); err != nil {
			return nil, err
		}
	}
	req := &commitReq{msgs: msgs, inserted: make([]bool, len(msgs)), durable: durable, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case s.commits <- req:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued the commit always completes (Close drains the queue), so
	// wait for it even if ctx ends: the caller must learn whether it is stored.
	err := <-req.done
	return req.inserted, err
}

func validate(m *Message) error {
	if len(m.Author) == 0 || len(m.Author) > maxAuthorLen {
		return fmt.Errorf("%w: author length %d", ErrInvalid, len(m.Author))
	}
	if m.Seq == 0 {
		return fmt.Errorf("%w: seq 0", ErrInvalid)
	}
	if (len(m.Raw) == 0 && !m.erased) || len(m.Raw) > maxRawLen {
		return fmt.Errorf("%w: message size %d", ErrInvalid, len(m.Raw))
	}
	if len(m.Parents) > maxParents {
		return fmt.Errorf("%w: %d parents", ErrInvalid, len(m.Parents))
	}
	if len(m.Targets) > maxTargets {
		return fmt.Errorf("%w: %d targets", ErrInvalid, len(m.Targets))
	}
	return validTerms(m.Terms)
}
