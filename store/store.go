package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

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
	Raw     []byte
}

// Stored is a message as read back: its ordering key and raw bytes.
type Stored struct {
	ID      MessageID
	Lamport uint64
	Raw     []byte
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
}

type options struct {
	inMemory bool
	logger   *slog.Logger
}

// Option configures Open.
type Option func(*options)

// InMemory keeps everything in memory (tests and benchmarks only).
func InMemory() Option { return func(o *options) { o.inMemory = true } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(false). // we fsync once per commit batch instead
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithValueThreshold(1 << 10).
		WithNumCompactors(2).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20)
	if o.inMemory {
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	s := &Store{
		db:      db,
		log:     o.logger.With("component", "store"),
		commits: make(chan *commitReq, 256),
		stop:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.committer()
	return s, nil
}

// Close flushes and closes the store. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.stop)
		s.wg.Wait()
		err = s.db.Close()
	})
	return err
}

type commitReq struct {
	msgs     []Message
	inserted []bool
	done     chan error
}

// Append stores msgs durably and reports, per message, whether it was new
// (false: the same id was already stored, so nothing was written). It returns
// only after the batch is fsynced.
func (s *Store) Append(ctx context.Context, msgs ...Message) ([]bool, error) {
	for i := range msgs {
		if err := validate(&msgs[i]); err != nil {
			return nil, err
		}
	}
	req := &commitReq{msgs: msgs, inserted: make([]bool, len(msgs)), done: make(chan error, 1)}
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
	if len(m.Raw) == 0 {
		return fmt.Errorf("%w: empty message", ErrInvalid)
	}
	return nil
}

// committer is the single writer of message keys: it batches whatever is
// queued into one transaction and one fsync (group commit).
func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *commitReq
		select {
		case first = <-s.commits:
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-s.commits:
					s.commitBatch([]*commitReq{r})
				default:
					return
				}
			}
		}
		batch := []*commitReq{first}
		n := len(first.msgs)
	more:
		for n < maxBatch {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
				n += len(r.msgs)
			default:
				break more
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*commitReq) {
	err := s.writeBatch(batch)
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		s.log.Error("commit failed", "err", err)
		for _, r := range batch {
			for i := range r.inserted {
				r.inserted[i] = false
			}
		}
	}
	for _, r := range batch {
		r.done <- err
	}
}

// writeBatch writes all requests, splitting into several transactions when
// one grows too big.
func (s *Store) writeBatch(batch []*commitReq) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	counts := map[GroupID]*groupCounter{}
	pending := 0
	flush := func() error {
		if err := writeCounters(txn, counts); err != nil {
			return err
		}
		if err := txn.Commit(); err != nil {
			return err
		}
		txn = s.db.NewTransaction(true)
		counts = map[GroupID]*groupCounter{}
		pending = 0
		return nil
	}
	for _, r := range batch {
		for i := range r.msgs {
			if pending >= maxBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			ins, err := s.insert(txn, &r.msgs[i], counts)
			if errors.Is(err, badger.ErrTxnTooBig) {
				if err := flush(); err != nil {
					return err
				}
				ins, err = s.insert(txn, &r.msgs[i], counts)
			}
			if err != nil {
				return err
			}
			r.inserted[i] = ins
			pending++
		}
	}
	return flush()
}

type groupCounter struct {
	count, maxLamport uint64
}

func (s *Store) counter(txn *badger.Txn, g GroupID, counts map[GroupID]*groupCounter) (*groupCounter, error) {
	if c, ok := counts[g]; ok {
		return c, nil
	}
	c := &groupCounter{}
	item, err := txn.Get(key('n', g[:]))
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
	counts[g] = c
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
func (s *Store) insert(txn *badger.Txn, m *Message, counts map[GroupID]*groupCounter) (bool, error) {
	g := m.Group[:]
	idKey := key('i', g, m.ID[:])
	if _, err := txn.Get(idKey); err == nil {
		return false, nil
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return false, err
	}
	c, err := s.counter(txn, m.Group, counts)
	if err != nil {
		return false, err
	}
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
	// Heads: a message is a head unless something already names it as parent.
	if _, err := txn.Get(key('r', g, m.ID[:])); errors.Is(err, badger.ErrKeyNotFound) {
		if err := txn.Set(key('h', g, m.ID[:]), nil); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	if err := txn.Delete(key('w', g, m.ID[:])); err != nil {
		return false, err
	}
	for _, p := range m.Parents {
		if err := txn.Set(key('r', g, p[:]), nil); err != nil {
			return false, err
		}
		if err := txn.Delete(key('h', g, p[:])); err != nil {
			return false, err
		}
		if _, err := txn.Get(key('i', g, p[:])); errors.Is(err, badger.ErrKeyNotFound) {
			if err := txn.Set(key('w', g, p[:]), nil); err != nil {
				return false, err
			}
		} else if err != nil {
			return false, err
		}
	}
	if err := advanceVector(txn, m); err != nil {
		return false, err
	}
	c.count++
	if m.Lamport > c.maxLamport {
		c.maxLamport = m.Lamport
	}
	return true, nil
}

// advanceVector moves the author's contiguous prefix forward past m.Seq and
// any later seqs already held.
func advanceVector(txn *badger.Txn, m *Message) error {
	g := m.Group[:]
	ak := authorKey(m.Author)
	vk := key('v', g, ak)
	var have uint64
	item, err := txn.Get(vk)
	switch {
	case err == nil:
		if err := item.Value(func(v []byte) error {
			if len(v) == 8 {
				have = binary.BigEndian.Uint64(v)
			}
			return nil
		}); err != nil {
			return err
		}
	case errors.Is(err, badger.ErrKeyNotFound):
	default:
		return err
	}
	if m.Seq != have+1 {
		if have == 0 {
			// Remember the author even before its prefix starts, so the
			// vector lists it with seq 0.
			return txn.Set(vk, u64(0))
		}
		return nil
	}
	next := m.Seq
	it := txn.NewIterator(badger.IteratorOptions{Prefix: key('a', g, ak)})
	defer it.Close()
	for {
		cand := next + 1
		it.Seek(key('a', g, ak, u64(cand)))
		if !it.Valid() {
			break
		}
		k := it.Item().Key()
		off := 2 + GroupIDLen + len(ak)
		if len(k) < off+8 || binary.BigEndian.Uint64(k[off:off+8]) != cand {
			break
		}
		next = cand
	}
	return txn.Set(vk, u64(next))
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
