package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/files/filepb"
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
	// StallTimeout bounds one request (default 20 s); a peer that exceeds
	// it is struck and its chunk asked of another.
	StallTimeout time.Duration
	MaxStrikes   int // a peer struck this often is dropped (default 3)
	PerPeer      int // parallel requests per peer (default 4)
	// Retry is how often peers and their bitfields are asked again while
	// chunks are missing (default 1 s).
	Retry      time.Duration
	OnProgress func(Progress)
	// OnBadPeer is told each strike (a bad chunk, a stall, a refusal).
	OnBadPeer func(p peer.ID, err error)
	Log       *slog.Logger
}

// fetch is one run's shared state.
type fetch struct {
	cfg   FetchConfig
	e     *Entry
	l     Layout
	start time.Time
	base  uint64 // bytes held when the run began

	mu       sync.Mutex
	want     []bool // needed and not in flight nor written
	lowest   int
	written  int // chunks written by this run (durable or not)
	need     int // chunks missing when the run began
	unsynced int // chunks written since the last sync
	fetched  int
	bad      int
	strikes  map[peer.ID]int
	active   map[peer.ID]bool
	dropped  map[peer.ID]bool
	wake     chan struct{}
	syncReq  chan struct{} // to the syncer goroutine
	lastSync time.Time
}

// Fetch fetches the entry's missing chunks until it is complete (then
// Finish checks the content) or ctx ends. Chunks already durable are never
// asked for again.
func Fetch(ctx context.Context, cfg FetchConfig) error {
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 20 * time.Second
	}
	if cfg.MaxStrikes <= 0 {
		cfg.MaxStrikes = 3
	}
	if cfg.PerPeer <= 0 {
		cfg.PerPeer = 4
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
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (defers run last first)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() { // fsyncs off the workers' path
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
		if e.Leaves() == nil {
			f.getTree(ctx)
		}
		if e.Leaves() != nil && f.want == nil {
			f.mu.Lock()
			f.want = make([]bool, f.l.Chunks())
			for _, i := range e.Missing() {
				f.want[i] = true
				f.need++
			}
			f.mu.Unlock()
			f.base = e.HaveBytes()
		}
		if f.want != nil {
			if err := f.sync(true); err != nil {
				return err
			}
			if e.Complete() {
				f.report()
				return e.Finish(cfg.Key)
			}
			for _, p := range cfg.Peers() {
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
		select {
		case <-ctx.Done():
			f.sync(true)
			return ctx.Err()
		case <-tick.C:
		case <-f.wake:
		}
	}
}

// getTree asks peers for the hash list until one matches the root.
func (f *fetch) getTree(ctx context.Context) {
	for _, p := range f.cfg.Peers() {
		if f.isDropped(p) {
			continue
		}
		s, err := f.cfg.Open(ctx, p)
		if err != nil {
			continue
		}
		resp, err := f.ask(s, &filepb.Request{Kind: &filepb.Request_Tree{Tree: true}})
		s.Close()
		if err != nil || resp.Status != filepb.Status_OK {
			if err == nil && resp.Status == filepb.Status_REFUSED {
				f.strike(p, ErrRefused)
			}
			continue
		}
		if err := f.e.SetLeaves(resp.Leaves); err != nil {
			if errors.Is(err, ErrBadProof) {
				f.strike(p, err)
				continue
			}
			f.cfg.Log.Warn("file tree", "err", err)
			return
		}
		return
	}
}

func (f *fetch) ask(s Stream, req *filepb.Request) (*filepb.Response, error) {
	root := f.e.Root()
	req.Root = root[:]
	s.SetDeadline(time.Now().Add(f.cfg.StallTimeout))
	if err := pbio.NewDelimitedWriter(s).WriteMsg(req); err != nil {
		return nil, err
	}
	var resp filepb.Response
	if err := pbio.NewDelimitedReader(s, maxResponse).ReadMsg(&resp); err != nil {
		if isTimeout(err) {
			return nil, ErrStalled
		}
		return nil, err
	}
	return &resp, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
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

// peer runs PerPeer workers against one peer until it is dropped, has
// nothing more we need, or the fetch ends.
func (f *fetch) peer(ctx context.Context, p peer.ID) {
	defer func() {
		f.mu.Lock()
		delete(f.active, p)
		f.mu.Unlock()
		f.poke()
	}()
	var wg sync.WaitGroup
	for range f.cfg.PerPeer {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.worker(ctx, p)
		}()
	}
	wg.Wait()
}

func (f *fetch) worker(ctx context.Context, p peer.ID) {
	var s Stream
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	var bf []byte
	for ctx.Err() == nil && !f.isDropped(p) {
		if s == nil {
			var err error
			if s, err = f.cfg.Open(ctx, p); err != nil {
				return // unreachable now: the main loop tries again later
			}
			resp, err := f.ask(s, &filepb.Request{Kind: &filepb.Request_Have{Have: true}})
			if err != nil || resp.Status != filepb.Status_OK {
				if err == nil && resp.Status == filepb.Status_REFUSED {
					f.strike(p, ErrRefused)
				} else if errors.Is(err, ErrStalled) {
					f.strike(p, err)
				}
				return
			}
			bf = resp.Bitfield
		}
		i := f.pick(bf)
		if i < 0 {
			return // nothing we need from this peer now; asked again later
		}
		resp, err := f.ask(s, &filepb.Request{Kind: &filepb.Request_Chunk{Chunk: uint32(i)}})
		if err == nil && resp.Status != filepb.Status_OK {
			err = fmt.Errorf("%w: status %s", ErrMissing, resp.Status)
		}
		if err == nil {
			err = f.check(i, resp)
		}
		if err != nil {
			f.giveBack(i)
			s.Close()
			s = nil
			if errors.Is(err, ErrBadProof) || errors.Is(err, ErrStalled) {
				f.strike(p, err)
			} else if errors.Is(err, ErrMissing) {
				return
			} else if ctx.Err() == nil {
				f.cfg.Log.Debug("file chunk", "peer", p, "err", err)
				return
			}
			continue
		}
		f.stored()
	}
}

// check verifies a chunk against the root by its proof and stores it.
func (f *fetch) check(i int, resp *filepb.Response) error {
	if len(resp.Data) != f.l.Sealed(i) {
		return ErrBadProof
	}
	if err := Verify(f.e.Root(), f.l.Chunks(), i, LeafHash(resp.Data), resp.Proof); err != nil {
		return err
	}
	return f.e.PutChunk(i, resp.Data)
}

func (f *fetch) pick(bf []byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.lowest < len(f.want) && !f.want[f.lowest] {
		f.lowest++
	}
	for i := f.lowest; i < len(f.want); i++ {
		if f.want[i] && HasBit(bf, i) {
			f.want[i] = false
			return i
		}
	}
	return -1
}

func (f *fetch) giveBack(i int) {
	f.mu.Lock()
	f.want[i] = true
	f.lowest = min(f.lowest, i)
	f.mu.Unlock()
}

func (f *fetch) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stored counts a written chunk and syncs now and then: one fsync covers
// many chunks, and only synced chunks are marked held.
func (f *fetch) stored() {
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
	syncEvery = 250 * time.Millisecond
	syncBytes = 16 << 20
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
