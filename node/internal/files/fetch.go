package files

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Stream is what a fetch needs of a libp2p stream.
type Stream interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
}

// Fetch errors and strike reasons.
var (
	ErrRefused  = errors.New("peer refused the file request")
	ErrStalled  = errors.New("peer stalled")
	ErrNoSource = errors.New("no peer holds the missing chunks")
	// ErrProtocol: a peer answered out of order or with a malformed frame.
	ErrProtocol = errors.New("peer broke the file protocol")
)

// Progress reports a running fetch.
type Progress struct {
	Root    [HashLen]byte
	Done    uint64        // plaintext bytes durable
	Total   uint64        // file size
	Speed   float64       // bytes per second over this fetch
	ETA     time.Duration // at Speed; 0 when unknown
	Peers   int           // peers serving now
	Fetched int           // chunks fetched (and stored) by this fetch
	Bad     int           // chunks refused as not matching the tree
}

// FetchConfig drives one fetch.
type FetchConfig struct {
	Entry *Entry
	Key   []byte
	// Peers lists who may hold the file now (called again while fetching,
	// so peers met later, or members who fetched it since, are used).
	Peers func() []peer.ID
	Open  func(ctx context.Context, p peer.ID) (Stream, error)
	// StallTimeout bounds the wait for any answer from a peer (default
	// 20 s); a peer that exceeds it is struck and its chunks asked of
	// another.
	StallTimeout time.Duration
	MaxStrikes   int // a peer struck this often is dropped (default 3)
	PerPeer      int // streams per peer (default 1)
	// RangeBytes is about how much one range request asks for (default
	// 4 MiB); Depth how many ranges a stream keeps asked ahead (default
	// 2), so the peer never waits for our next request.
	RangeBytes int
	Depth      int
	// Retry is how often peers and their bitfields are asked again while
	// chunks are missing (default 1 s).
	Retry      time.Duration
	OnProgress func(Progress)
	// OnBadPeer is told each strike (a bad chunk, a stall, a refusal).
	OnBadPeer func(p peer.ID, err error)
	// Space, when set, is asked before chunks are written; an error (disk
	// full) pauses the fetch until it returns nil.
	Space func() error
	// OnPause is told when the fetch pauses for Space (err) and resumes (nil).
	OnPause func(err error)
	Log     *slog.Logger
}

// fetch is one run's shared state.
type fetch struct {
	cfg      FetchConfig
	e        *Entry
	l        Layout
	rangeLen int
	start    time.Time
	base     uint64 // bytes held when the run began

	mu       sync.Mutex
	want     []bool // needed and not in flight nor written
	left     int    // how many want holds
	lowest   int
	written  int // chunks written by this run (durable or not)
	need     int // chunks missing when the run began
	unsynced int // chunks written since the last sync
	fetched  int
	bad      int
	strikes  map[peer.ID]int
	active   map[peer.ID]bool
	dropped  map[peer.ID]bool
	paused   error // the disk is full: no chunk is asked for
	wake     chan struct{}
	syncReq  chan struct{} // to the syncer goroutine
	lastSync time.Time
	free     chan *[]byte // receive buffers
	jobs     chan job     // received chunks for the workers
}

// Fetch fetches the entry's missing chunks until it is complete (then the
// content hash decides complete or failed, see Finish) or ctx ends. Chunks
// already durable are never asked for again. Streams only read; workers
// (one per CPU, at least four) check each chunk against the tree and write it.
func Fetch(ctx context.Context, cfg FetchConfig) error {
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 20 * time.Second
	}
	if cfg.MaxStrikes <= 0 {
		cfg.MaxStrikes = 3
	}
	if cfg.PerPeer <= 0 {
		cfg.PerPeer = 1
	}
	if cfg.RangeBytes <= 0 {
		cfg.RangeBytes = 4 << 20
	}
	if cfg.Depth <= 0 {
		cfg.Depth = 2
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	e := cfg.Entry
	f := &fetch{cfg: cfg, e: e, l: e.Layout(), start: time.Now(), strikes: map[peer.ID]int{},
		active: map[peer.ID]bool{}, dropped: map[peer.ID]bool{}, wake: make(chan struct{}, 1),
		syncReq: make(chan struct{}, 1)}
	f.rangeLen = 1
	if f.l.ChunkSize > 0 {
		f.rangeLen = min(max(cfg.RangeBytes/f.l.ChunkSize, 1), maxRange)
	}
	var wg sync.WaitGroup
	var stopWorkers func()
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait() // every stream has ended, its chunks out of the workers
		if stopWorkers != nil {
			stopWorkers()
		}
	}()
	wg.Add(1)
	go func() { // fsyncs off the receivers' path
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-f.syncReq:
				if err := f.sync(true); err != nil {
					cfg.Log.Warn("file sync", "err", err)
				}
			}
		}
	}()
	tick := time.NewTicker(cfg.Retry)
	defer tick.Stop()
	for {
		if f.checkSpace() && f.want == nil {
			if e.Leaves() == nil {
				if err := f.getTree(ctx); err != nil {
					return err
				}
			}
			if e.Leaves() != nil {
				var err error
				if stopWorkers, err = f.init(); err != nil {
					return err
				}
			}
		}
		if f.want != nil {
			if err := f.sync(true); err != nil {
				return err
			}
			if e.Complete() {
				f.report()
				return e.Finish(cfg.Key)
			}
			f.startPeers(ctx, &wg)
		}
		select {
		case <-ctx.Done():
			f.sync(true)
			return ctx.Err()
		case <-tick.C:
		case <-f.wake:
		}
	}
}

// init builds the wanted set once the tree is known and starts the
// workers.
func (f *fetch) init() (stop func(), err error) {
	n := f.l.Chunks()
	f.mu.Lock()
	f.want = make([]bool, n)
	for _, i := range f.e.Missing() {
		f.want[i] = true
		f.need++
	}
	f.left = f.need
	f.mu.Unlock()
	f.base = f.e.HaveBytes()
	// One worker per CPU, but at least four: a worker blocks in its write to
	// the page cache now and then (writeback), and another should have the
	// CPU. At most half the buffers' worth, so readers always have some.
	return f.startWorkers(min(max(runtime.GOMAXPROCS(0), fetchWorkers), bufCount/2))
}

// startPeers starts a session with every peer not running nor dropped.
func (f *fetch) startPeers(ctx context.Context, wg *sync.WaitGroup) {
	if !f.checkSpace() {
		return
	}
	for _, p := range f.cfg.Peers() {
		f.mu.Lock()
		start := !f.active[p] && !f.dropped[p]
		if start {
			f.active[p] = true
		}
		f.mu.Unlock()
		if start {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.peer(ctx, p)
			}()
		}
	}
}

// checkSpace asks cfg.Space and flips the paused state; false while the
// disk is full.
func (f *fetch) checkSpace() bool {
	if f.cfg.Space == nil {
		return true
	}
	err := f.cfg.Space()
	f.mu.Lock()
	was := f.paused
	f.paused = err
	f.mu.Unlock()
	if (was == nil) != (err == nil) {
		f.cfg.Log.Info("file fetch paused for space", "err", err)
		if f.cfg.OnPause != nil {
			f.cfg.OnPause(err)
		}
	}
	return err == nil
}

func (f *fetch) isPaused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused != nil
}

func (f *fetch) isDropped(p peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped[p]
}

// strike scores a peer down; MaxStrikes drop it for this fetch.
func (f *fetch) strike(p peer.ID, err error) bool {
	f.mu.Lock()
	f.strikes[p]++
	if errors.Is(err, ErrBadProof) {
		f.bad++
	}
	drop := f.strikes[p] >= f.cfg.MaxStrikes || errors.Is(err, ErrRefused)
	if drop {
		f.dropped[p] = true
	}
	f.mu.Unlock()
	f.cfg.Log.Info("file peer struck", "peer", p, "err", err, "dropped", drop)
	if f.cfg.OnBadPeer != nil {
		f.cfg.OnBadPeer(p, err)
	}
	return drop
}

// span is a run of chunks asked of a peer in one range request.
type span struct{ first, count int }

// pickRange takes the lowest run of wanted chunks bf holds, at most
// rangeLen long and short enough that every serving peer gets a share of
// what is left; ok false when bf holds nothing we want.
func (f *fetch) pickRange(bf []byte) (span, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused != nil {
		return span{}, false
	}
	for f.lowest < len(f.want) && !f.want[f.lowest] {
		f.lowest++
	}
	limit := min(f.rangeLen, max(1, f.left/max(1, len(f.active)*f.cfg.Depth)))
	for i := f.lowest; i < len(f.want); i++ {
		if !f.want[i] || !HasBit(bf, i) {
			continue
		}
		r := span{first: i}
		for j := i; j < len(f.want) && r.count < limit && f.want[j] && HasBit(bf, j); j++ {
			f.want[j] = false
			r.count++
		}
		f.left -= r.count
		return r, true
	}
	return span{}, false
}

// giveBack returns chunks first..end-1 to the wanted set.
func (f *fetch) giveBack(first, end int) {
	if first >= end {
		return
	}
	f.mu.Lock()
	for i := first; i < end; i++ {
		f.want[i] = true
	}
	f.left += end - first
	f.lowest = min(f.lowest, first)
	f.mu.Unlock()
	f.poke() // idle peers may serve them
}

func (f *fetch) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stored counts written chunk i and syncs now and then: one fsync covers
// many chunks, and only synced chunks are marked held.
func (f *fetch) stored(i int) {
	f.mu.Lock()
	f.written++
	f.fetched++
	f.unsynced++
	done := f.written == f.need
	full := f.unsynced*f.l.ChunkSize >= syncBytes || time.Since(f.lastSync) >= syncEvery
	f.mu.Unlock()
	if done || full {
		select {
		case f.syncReq <- struct{}{}:
		default: // one is queued already
		}
	}
	if done {
		f.poke()
	}
}

// syncEvery and syncBytes bound how much a crash may lose of a running
// fetch (one fsync covers that much).
const (
	syncEvery = 500 * time.Millisecond
	syncBytes = 32 << 20
)

func (f *fetch) sync(force bool) error {
	f.mu.Lock()
	if !force && time.Since(f.lastSync) < syncEvery {
		f.mu.Unlock()
		return nil
	}
	f.lastSync = time.Now()
	f.unsynced = 0
	f.mu.Unlock()
	n, err := f.e.Sync()
	if n > 0 {
		f.poke() // the main loop checks for completion
	}
	if err != nil {
		return err
	}
	if n > 0 {
		f.report()
	}
	return nil
}

func (f *fetch) report() {
	if f.cfg.OnProgress == nil {
		return
	}
	done := f.e.HaveBytes()
	el := time.Since(f.start).Seconds()
	f.mu.Lock()
	p := Progress{Root: f.e.Root(), Done: done, Total: f.l.Size, Peers: len(f.active), Fetched: f.fetched, Bad: f.bad}
	f.mu.Unlock()
	if el > 0 && done > f.base {
		p.Speed = float64(done-f.base) / el
		p.ETA = time.Duration(float64(p.Total-done) / p.Speed * float64(time.Second))
	}
	f.cfg.OnProgress(p)
}
