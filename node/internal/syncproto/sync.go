package syncproto

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/store"
)

// Protocol is the history sync stream protocol (see doc.go for the flow).
const Protocol = protocol.ID("/parley/sync/1.0.0")

// Bounds on the sync protocol's messages.
const (
	MaxHelloSize     = 1 << 10
	MaxRequestSize   = 1 << 20
	maxBatchWire     = 4 << 20
	MaxBatchMessages = 1024
	maxBatchBytes    = 1 << 20
	MaxWant          = 4096
	MaxHave          = 50000
	peersPerRound    = 3
)

// Limits bounds what one sync stream may hold and for how long (docs/sync.md,
// "Limits"). Every wait on the peer has a deadline.
type Limits struct {
	HelloTimeout   time.Duration // responder: the hello must arrive within this of the stream opening
	RequestTimeout time.Duration // responder: the request must arrive within this of the hello reply
	WriteTimeout   time.Duration // responder: each batch must be taken within this
	StallTimeout   time.Duration // requester: the longest wait for the peer's next message
	PullTimeout    time.Duration // requester: a whole pull; what is left comes in the next one (at once if it was storing full pages)
	MaxUnproven    int           // streams before their hello is checked, all peers together
	MaxServing     int           // proven streams being served, all peers together
	PerPeer        int           // sync streams one peer may hold open at once
}

// DefaultLimits are the limits a Syncer starts with.
func DefaultLimits() Limits {
	return Limits{
		HelloTimeout: 5 * time.Second, RequestTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		StallTimeout: 15 * time.Second, PullTimeout: 2 * time.Minute,
		MaxUnproven: 32, MaxServing: 16, PerPeer: 2,
	}
}

// ErrDenied means the peer does not hold the group secret (or we do not).
var ErrDenied = errors.New("sync denied: peer is not a member of the group")

// ErrBusy counts a sync stream refused for want of a slot (a peer's own
// cap, or all slots taken): the requester retries later.
var ErrBusy = errors.New("sync-busy")

// Progress is the state of one pull from one peer.
type Progress struct {
	Peer     string    `json:"peer"`
	Group    string    `json:"group"`
	Received uint64    `json:"received"` // messages received in this pull
	Total    uint64    `json:"total"`    // received + still to come, as the peer last said
	Bytes    uint64    `json:"bytes"`    // sync stream bytes both ways, framing included
	Done     bool      `json:"done"`
	Err      string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
}

// Store is what sync reads of a group's history.
type Store interface {
	Vector(g store.GroupID) ([]store.AuthorSeq, error)
	Missing(g store.GroupID, limit int) ([]store.MessageID, error)
	AuthorAfter(g store.GroupID, author []byte, seq uint64, fn func(store.AuthorIndexEntry) bool) error
	Get(g store.GroupID, id store.MessageID) (store.Stored, error)
	GetAt(g store.GroupID, lamport uint64, id store.MessageID) (store.Stored, error)
	After(g store.GroupID, c *store.Cursor, fn func(store.Stored) bool) error
	GroupStats(g store.GroupID) (store.Stats, error)
	VectorRanges(g store.GroupID) ([]store.AuthorRange, error)
}

// Net is the part of the host sync uses.
type Net interface {
	IsConnected(p peer.ID) bool
	NewStream(ctx context.Context, p peer.ID, id protocol.ID) (network.Stream, error)
}

// Group is one group as sync sees it.
type Group struct {
	ID   store.GroupID
	Keys *envelope.GroupKeys
	// SinceMs, when set, asks peers only for messages from then on (a group
	// joined with history from the join only).
	SinceMs int64
	// Peers lists the members connected on the group's topic (periodic sync).
	Peers func() []peer.ID
	// MinSince, when set, is the earliest timestamp (ms) a requester that
	// proved membership is served: in a history-from-join group, its join.
	// The responder serves from max(request's since_ms, MinSince(peer)).
	MinSince func(peer.ID) int64
	// Allow, when set, is asked once a requester's proof checks out; false
	// refuses it as a non-member (a removed member still holding the key).
	Allow func(peer.ID) bool

	pullMu sync.Mutex // one pull at a time
	guard  guard      // per-author sequence state (guard.go)
}

// Config wires a Syncer to the rest of the node.
type Config struct {
	Self  peer.ID
	Store Store
	Net   Net
	// Groups lists the groups we hold (the responder tries each one's proof).
	Groups func() []*Group
	// Ingest stores verified messages pulled from a peer (in order, parents
	// first); an error ends the pull.
	Ingest func(g *Group, vs []*envelope.Verified) error
	// OnProgress, OnDrop and OnMember are told of progress, of refused
	// input and of a peer that proved membership of a group. Each may be nil.
	OnProgress func(Progress)
	OnDrop     func(error)
	OnMember   func(peer.ID, *Group)
	// Verifier checks pulled messages (nil: one of the Syncer's own).
	Verifier *envelope.Verifier
	// Interval is the periodic re-sync (0: off).
	Interval time.Duration
	Log      *slog.Logger
}

type syncKey struct {
	p peer.ID
	g store.GroupID
}

type syncRun struct {
	again    bool
	progress Progress
}

// Syncer pulls missing history from members and serves ours to them.
type Syncer struct {
	cfg Config
	log *slog.Logger

	// Slots (serve.go): unproven and proven streams, and streams per peer.
	unproven, serving int
	perPeer           map[peer.ID]int
	pulls             map[peer.ID]chan struct{} // requester: concurrent pulls per peer
	lim               Limits
	// maxHeld is the most messages (or plan entries) one answer held at once.
	maxHeld atomic.Int64

	// pulledBytes counts sync stream bytes of every pull, both ways.
	pulledBytes atomic.Uint64
	// pullCount counts pulls that opened a stream (finished or failed).
	pullCount atomic.Uint64

	// AfterBatch, when set (tests, before Start), runs after each stored batch of a pull.
	AfterBatch func(p peer.ID, received uint64)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	closing    bool
	gapPending map[syncKey]bool
	runs       map[syncKey]*syncRun
	last       map[syncKey]Progress // finished pulls, for status
}

// New returns a Syncer; nothing runs until Start.
func New(cfg Config) *Syncer {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Verifier == nil {
		cfg.Verifier = envelope.NewVerifier()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // not started: requests are no-ops until Start
	return &Syncer{cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel, lim: DefaultLimits(), perPeer: map[peer.ID]int{},
		runs: map[syncKey]*syncRun{}, gapPending: map[syncKey]bool{}, last: map[syncKey]Progress{}}
}

// SetLimits replaces the limits (tests use short deadlines); zero fields keep theirs.
func (s *Syncer) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.lim
	for _, f := range []struct{ to, from *time.Duration }{{&d.HelloTimeout, &l.HelloTimeout}, {&d.RequestTimeout, &l.RequestTimeout},
		{&d.WriteTimeout, &l.WriteTimeout}, {&d.StallTimeout, &l.StallTimeout}, {&d.PullTimeout, &l.PullTimeout}} {
		if *f.from > 0 {
			*f.to = *f.from
		}
	}
	for _, f := range []struct{ to, from *int }{{&d.MaxUnproven, &l.MaxUnproven}, {&d.MaxServing, &l.MaxServing}, {&d.PerPeer, &l.PerPeer}} {
		if *f.from > 0 {
			*f.to = *f.from
		}
	}
}

func (s *Syncer) limits() Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lim
}

// MaxHeld is the most messages or plan entries one served answer held in
// memory at once (bounded whatever the history size).
func (s *Syncer) MaxHeld() int64 { return s.maxHeld.Load() }

// Start runs periodic sync until Close and accepts requests.
func (s *Syncer) Start() {
	s.mu.Lock()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()
	s.goOwned(s.periodic)
}

// Close stops every pull and serve and waits for them.
func (s *Syncer) Close() {
	s.mu.Lock()
	s.closing = true
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// PulledBytes is the sync stream bytes of every pull so far, both ways.
func (s *Syncer) PulledBytes() uint64 { return s.pulledBytes.Load() }

// Pulls is how many pulls have opened a stream so far (finished or failed).
func (s *Syncer) Pulls() uint64 { return s.pullCount.Load() }

// goOwned runs fn on a goroutine that Close waits for, unless closing:
// checking and registering under one lock keeps Add from racing Wait.
// enterServe registers a serve with Close's WaitGroup unless closing.
func (s *Syncer) enterServe() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Syncer) goOwned(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.ctx.Err() != nil {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

func (s *Syncer) drop(err error) {
	if s.cfg.OnDrop != nil {
		s.cfg.OnDrop(err)
	}
}

func (s *Syncer) progress(p Progress) {
	if s.cfg.OnProgress != nil {
		s.cfg.OnProgress(p)
	}
}

func (s *Syncer) member(p peer.ID, g *Group) {
	if s.cfg.OnMember != nil {
		s.cfg.OnMember(p, g)
	}
}

func (s *Syncer) context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx
}

// Request pulls g from p soon; a pull already running is run once more after.
func (s *Syncer) Request(p peer.ID, g *Group) {
	ctx := s.context()
	if p == s.cfg.Self || ctx.Err() != nil {
		return
	}
	k := syncKey{p, g.ID}
	s.mu.Lock()
	if r, ok := s.runs[k]; ok {
		r.again = true
		s.mu.Unlock()
		return
	}
	r := &syncRun{progress: Progress{Peer: p.String(), Group: hex.EncodeToString(g.ID[:]), Started: time.Now()}}
	s.runs[k] = r
	s.mu.Unlock()
	started := s.goOwned(func() {
		for {
			err := s.pull(ctx, p, g, r)
			s.mu.Lock()
			more := continues(err, r.progress.Received)
			s.mu.Unlock()
			if err != nil && ctx.Err() == nil && stalled(err) && !more {
				s.elsewhere(p, g)
			}
			s.mu.Lock()
			r.progress.Done = true
			if err != nil {
				r.progress.Err = err.Error()
			}
			r.again = r.again || more
			s.last[k] = r.progress
			if !r.again || ctx.Err() != nil {
				delete(s.runs, k)
				s.mu.Unlock()
				s.progress(r.progress)
				return
			}
			r.again = false
			r.progress = Progress{Peer: p.String(), Group: r.progress.Group, Started: time.Now()}
			s.mu.Unlock()
		}
	})
	if !started {
		s.mu.Lock()
		delete(s.runs, k)
		s.mu.Unlock()
	}
}

// gapDelay is how long a missing parent may stay missing before we pull:
// under live traffic gossip often delivers it by itself a moment later.
const gapDelay = time.Second

// gapSample bounds how many missing ids a gap check compares.
const gapSample = 256

// RequestGap pulls g from p if, after gapDelay, a referenced parent is still missing.
func (s *Syncer) RequestGap(p peer.ID, g *Group) {
	k := syncKey{p, g.ID}
	s.mu.Lock()
	if s.gapPending[k] {
		s.mu.Unlock()
		return
	}
	s.gapPending[k] = true
	s.mu.Unlock()
	// Only the parents missing now count: under steady traffic something
	// is always in flight, so "anything missing after the delay" pulled
	// about once a second from every neighbour for nothing.
	before, err := s.cfg.Store.Missing(g.ID, gapSample)
	if err != nil || len(before) == 0 {
		s.mu.Lock()
		delete(s.gapPending, k)
		s.mu.Unlock()
		return
	}
	ctx := s.context()
	s.goOwned(func() {
		defer func() {
			s.mu.Lock()
			delete(s.gapPending, k)
			s.mu.Unlock()
		}()
		t := time.NewTimer(gapDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		after, err := s.cfg.Store.Missing(g.ID, gapSample)
		if err != nil {
			return
		}
		still := make(map[store.MessageID]bool, len(after))
		for _, id := range after {
			still[id] = true
		}
		for _, id := range before {
			// A full sample may have pushed an old id out: pull to be safe.
			if still[id] || len(after) == gapSample {
				s.Request(p, g)
				return
			}
		}
	})
}

// Busy reports whether a pull is running or a gap check is waiting to
// decide on one.
func (s *Syncer) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs) > 0 || len(s.gapPending) > 0
}

// Progress lists running pulls and the last finished one per peer and group.
func (s *Syncer) Progress() []Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Progress
	for _, r := range s.runs {
		out = append(out, r.progress)
	}
	for k, p := range s.last {
		if _, running := s.runs[k]; !running {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Peer < out[j].Peer
	})
	return out
}

// periodic re-syncs each group with a few connected members, so nodes
// converge even when no new message reveals a gap.
func (s *Syncer) periodic() {
	if s.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	ctx := s.context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, g := range s.cfg.Groups() {
			peers := g.Peers()
			mrand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
			for i, p := range peers {
				if i == peersPerRound {
					break
				}
				s.Request(p, g)
			}
		}
	}
}

func (s *Syncer) update(r *syncRun, received, remaining, bytes uint64) {
	s.mu.Lock()
	r.progress.Bytes = bytes
	r.progress.Received += received
	r.progress.Total = r.progress.Received + remaining
	p := r.progress
	s.mu.Unlock()
	s.progress(p)
}
