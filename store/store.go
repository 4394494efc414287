package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
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
	maxRawLen    = 1<<20 - 1 // below Badger's largest inline value, so in-memory stores hold any message
	maxParents   = 256
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

	syncEvery time.Duration
	unsynced  atomic.Bool // AppendReceived wrote since the last fsync

	ids      atomic.Pointer[idFilter] // "certainly not stored" without Badger (filter.go)
	gaps     *gapSet                  // ids under a gap marker (filter.go)
	lastSync time.Time                // end of the last durable commit (committer only)
}

type options struct {
	inMemory  bool
	logger    *slog.Logger
	syncEvery time.Duration
	lockWait  time.Duration
}

// ErrLocked means another process has the store open (Badger allows one).
var ErrLocked = errors.New("store: in use by another process")

// WithLockWait makes Open wait up to d for another process to release the
// store (a CLI command reading it briefly) before failing with ErrLocked.
func WithLockWait(d time.Duration) Option { return func(o *options) { o.lockWait = d } }

// WithSyncEvery sets how long a received message may wait for its fsync
// (default DefaultSyncEvery). Own messages are always fsynced before Append
// returns.
func WithSyncEvery(d time.Duration) Option { return func(o *options) { o.syncEvery = d } }

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
		WithIndexCacheSize(8 << 20).
		// One goroutine (the committer) reads and writes message keys; every
		// other write is a blind Set. No transaction can conflict with another,
		// so Badger need not track every read to check.
		WithDetectConflicts(false)
	if o.inMemory {
		// No value log in memory: values must stay inline in the LSM tree.
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(maxRawLen)
	}
	db, err := openBadger(bo, o.lockWait)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	ids, err := buildIDFilter(db)
	if err == nil {
		var gaps *gapSet
		if gaps, err = loadGapSet(db); err == nil {
			return start(db, o, ids, gaps), nil
		}
	}
	db.Close()
	return nil, fmt.Errorf("store: open %s: index: %w", dir, err)
}

// openBadger opens the database, retrying for up to wait while another
// process holds its directory lock. Badger reports the lock only in its error
// text; this is the one place that reads it.
func openBadger(bo badger.Options, wait time.Duration) (*badger.DB, error) {
	deadline := time.Now().Add(wait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		db, err := badger.Open(bo)
		if err == nil {
			return db, nil
		}
		if !strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: %v", ErrLocked, err)
		}
		time.Sleep(min(delay, time.Until(deadline)))
	}
}

// start wraps an open database and starts the writer goroutines.
func start(db *badger.DB, o options, ids *idFilter, gaps *gapSet) *Store {
	s := &Store{
		db:        db,
		log:       o.logger.With("component", "store"),
		commits:   make(chan *commitReq, 256),
		stop:      make(chan struct{}),
		syncEvery: o.syncEvery,
		gaps:      gaps,
	}
	s.ids.Store(ids)
	if s.syncEvery <= 0 {
		s.syncEvery = DefaultSyncEvery
	}
	s.wg.Add(2)
	go s.committer()
	go s.lazySyncer()
	return s
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
		if s.unsynced.Load() {
			err = s.db.Sync()
		}
		err = errors.Join(err, s.db.Close())
	})
	return err
}

type commitReq struct {
	msgs     []Message
	inserted []bool
	durable  bool // fsync before answering
	done     chan error
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
	if len(m.Raw) == 0 || len(m.Raw) > maxRawLen {
		return fmt.Errorf("%w: message size %d", ErrInvalid, len(m.Raw))
	}
	if len(m.Parents) > maxParents {
		return fmt.Errorf("%w: %d parents", ErrInvalid, len(m.Parents))
	}
	return nil
}

// DefaultSyncEvery bounds how long a received message may wait for its fsync.
const DefaultSyncEvery = time.Second

// lazySyncer fsyncs what AppendReceived wrote, at most once per interval.
func (s *Store) lazySyncer() {
	defer s.wg.Done()
	// A random phase: stores opened together (a test, a bench, several
	// profiles) would otherwise all fsync in the same instant every period.
	select {
	case <-time.After(rand.N(s.syncEvery)):
	case <-s.stop:
		return
	}
	t := time.NewTicker(s.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			return // Close syncs what is left
		}
		if s.unsynced.Swap(false) {
			if err := s.db.Sync(); err != nil {
				s.unsynced.Store(true)
				s.log.Error("background sync failed", "err", err)
			}
		}
	}
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
					s.commitBatch([]*commitReq{r}, r.durable)
				default:
					return
				}
			}
		}
		var batch []*commitReq
		n, durable := 0, false
		take := func(r *commitReq) {
			batch = append(batch, r)
			n += len(r.msgs)
			durable = durable || r.durable
		}
		take(first)
	more:
		for n < maxBatch {
			select {
			case r := <-s.commits:
				take(r)
			default:
				break more
			}
		}
		// An fsync costs about 100 us of CPU (the journal commit included),
		// so under load durable commits are spaced at least minSyncGap
		// apart, and what queues meanwhile shares the next one.
		if wait := time.Until(s.lastSync.Add(minSyncGap)); durable && wait > 0 {
			t := time.NewTimer(wait)
		linger:
			for n < maxBatch {
				select {
				case r := <-s.commits:
					take(r)
				case <-t.C:
					break linger
				}
			}
			t.Stop()
		}
		s.commitBatch(batch, durable)
		if s.ids.Load().full() {
			s.growIDFilter()
		}
	}
}

// growIDFilter rebuilds the id filter for twice the ids now stored. It runs
// on the committer between batches, the only place ids are added, so the
// scan sees every id the old filter holds (or a failed commit's, dropped).
func (s *Store) growIDFilter() {
	f, err := buildIDFilter(s.db)
	if err != nil {
		s.log.Warn("rebuild id filter; keeping the old one", "err", err)
		s.ids.Load().capacity *= 2 // try again later, not on every batch
		return
	}
	s.ids.Store(f)
}

// minSyncGap spaces durable commits under load (see committer).
const minSyncGap = 2 * time.Millisecond

// commitBatch writes batch; when durable (any request is), it fsyncs
// before answering.
func (s *Store) commitBatch(batch []*commitReq, durable bool) {
	err := s.writeBatch(batch)
	if err == nil {
		if durable {
			s.unsynced.Store(false) // this Sync covers every earlier write too
			err = s.db.Sync()
			s.lastSync = time.Now()
		} else {
			s.unsynced.Store(true)
		}
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

// writeBatch writes all requests in as few transactions as fit Badger's
// limits. A transaction is committed only whole: if one ever fails, nothing
// of it is written and the messages after the last commit report false.
func (s *Store) writeBatch(batch []*commitReq) error {
	w := s.newBatchWriter()
	defer func() { w.txn.Discard(); w.view.Discard() }()
	type pos struct{ r, i int }
	var uncommitted []pos
	for ri, r := range batch {
		for i := range r.msgs {
			m := &r.msgs[i]
			cnt, size := entryCost(m)
			if w.count+cnt > w.maxCount || w.size+size > w.maxSize {
				if err := w.commit(); err != nil {
					return err
				}
				uncommitted = uncommitted[:0]
			}
			ins, err := w.insert(m)
			if err != nil {
				for _, p := range uncommitted {
					batch[p.r].inserted[p.i] = false
				}
				return err
			}
			r.inserted[i] = ins
			uncommitted = append(uncommitted, pos{ri, i})
			w.count += cnt
			w.size += size
		}
	}
	if err := w.commit(); err != nil {
		for _, p := range uncommitted {
			batch[p.r].inserted[p.i] = false
		}
		return err
	}
	return nil
}

// entryCost is an upper bound on the entries and bytes one insert writes.
func entryCost(m *Message) (count, size int64) {
	const keyOverhead = 2 + GroupIDLen + 8 + MessageIDLen + 1 + maxAuthorLen + 8 + 64 // largest key + Badger's per-entry overhead
	count = 6 + 3*int64(len(m.Parents)) + 1
	return count, count*keyOverhead + int64(len(m.Raw))
}

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
	w.view = w.s.db.NewTransaction(false)
	w.count, w.size = 0, 0
	w.counts = map[GroupID]*groupCounter{}
	w.vectors = map[string]*vectorState{}
	w.heads = map[GroupID]*headSet{}
	w.gapsFilled = nil
}

func (w *batchWriter) commit() error {
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
	if err := w.txn.Commit(); err != nil {
		return err
	}
	w.s.gaps.remove(w.gapsFilled)
	w.txn.Discard()
	w.view.Discard()
	w.reset()
	return nil
}

type groupCounter struct {
	count, maxLamport uint64
}

func (w *batchWriter) counter(g GroupID) (*groupCounter, error) {
	if c, ok := w.counts[g]; ok {
		return c, nil
	}
	c := &groupCounter{}
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
	if !named {
		heads.add(m.ID)
	}
	for _, p := range m.Parents {
		heads.remove(p)
		held := false
		if ids.mayContain(m.Group, p) {
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
		item, err := w.txn.Get(vk)
		switch {
		case err == nil:
			if err := item.Value(func(b []byte) error {
				if len(b) >= 8 {
					v.have = binary.BigEndian.Uint64(b)
					v.max = v.have
				}
				if len(b) >= 16 {
					v.max = binary.BigEndian.Uint64(b[8:])
				}
				return nil
			}); err != nil {
				return err
			}
		case errors.Is(err, badger.ErrKeyNotFound):
			v.dirty = true // a new author is listed, even at seq 0
		default:
			return err
		}
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

// heldInView reports whether the committed author index has seq.
func (w *batchWriter) heldInView(g, ak []byte, seq uint64) (bool, error) {
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
