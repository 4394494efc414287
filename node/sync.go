package node

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// SyncProtocol is the history sync stream protocol (see doc.go for the flow).
const SyncProtocol = protocol.ID("/parley/sync/1.0.0")

// Bounds on the sync protocol.
const (
	maxHelloSize     = 1 << 10
	maxRequestSize   = 1 << 20
	maxBatchWire     = 4 << 20
	maxBatchMessages = 1024
	maxBatchBytes    = 1 << 20
	maxWant          = 4096
	maxHave          = 50000
	helloTimeout     = 10 * time.Second
	batchTimeout     = 30 * time.Second
	maxServing       = 16
	peersPerRound    = 3
)

// SyncProgress is the state of one pull from one peer.
type SyncProgress struct {
	Peer     string    `json:"peer"`
	Group    string    `json:"group"`
	Received uint64    `json:"received"` // messages received in this pull
	Total    uint64    `json:"total"`    // received + still to come, as the peer last said
	Bytes    uint64    `json:"bytes"`    // sync stream bytes both ways, framing included
	Done     bool      `json:"done"`
	Err      string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
}

type syncKey struct {
	p peer.ID
	g store.GroupID
}

type syncRun struct {
	again    bool
	progress SyncProgress
}

// syncer pulls missing history from members and serves ours to them.
type syncer struct {
	n       *Node
	serving chan struct{}

	// pulledBytes counts sync stream bytes of every pull, both ways.
	pulledBytes atomic.Uint64

	// afterBatch, when set (tests), runs after each stored batch of a pull.
	afterBatch func(p peer.ID, received uint64)

	mu         sync.Mutex
	gapPending map[syncKey]bool
	runs       map[syncKey]*syncRun
	last       map[syncKey]SyncProgress // finished pulls, for status
}

func newSyncer(n *Node) *syncer {
	return &syncer{n: n, serving: make(chan struct{}, maxServing), runs: map[syncKey]*syncRun{}, gapPending: map[syncKey]bool{}, last: map[syncKey]SyncProgress{}}
}

// request pulls g from p soon; a pull already running is run once more after.
func (s *syncer) request(p peer.ID, g *group) {
	if p == s.n.self || s.n.ctx.Err() != nil {
		return
	}
	k := syncKey{p, g.rec.ID}
	s.mu.Lock()
	if r, ok := s.runs[k]; ok {
		r.again = true
		s.mu.Unlock()
		return
	}
	r := &syncRun{progress: SyncProgress{Peer: p.String(), Group: hex.EncodeToString(g.rec.ID[:]), Started: time.Now()}}
	s.runs[k] = r
	s.mu.Unlock()
	started := s.n.goOwned(func() {
		for {
			err := s.pull(s.n.ctx, p, g, r)
			s.mu.Lock()
			r.progress.Done = true
			if err != nil {
				r.progress.Err = err.Error()
			}
			s.last[k] = r.progress
			if !r.again || s.n.ctx.Err() != nil {
				delete(s.runs, k)
				s.mu.Unlock()
				s.n.events.publish(Event{Type: EventSync, Group: r.progress.Group, Sync: &r.progress})
				return
			}
			r.again = false
			r.progress = SyncProgress{Peer: p.String(), Group: r.progress.Group, Started: time.Now()}
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

// requestGap pulls g from p if, after gapDelay, a referenced parent is still missing.
func (s *syncer) requestGap(p peer.ID, g *group) {
	k := syncKey{p, g.rec.ID}
	s.mu.Lock()
	if s.gapPending[k] {
		s.mu.Unlock()
		return
	}
	s.gapPending[k] = true
	s.mu.Unlock()
	s.n.goOwned(func() {
		defer func() {
			s.mu.Lock()
			delete(s.gapPending, k)
			s.mu.Unlock()
		}()
		t := time.NewTimer(gapDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.n.ctx.Done():
			return
		}
		if missing, err := s.n.st.Missing(g.rec.ID, 1); err == nil && len(missing) > 0 {
			s.request(p, g)
		}
	})
}

// Progress lists running pulls and the last finished one per peer and group.
func (s *syncer) Progress() []SyncProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SyncProgress
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
func (s *syncer) periodic() {
	defer s.n.wg.Done()
	if s.n.cfg.syncInterval <= 0 {
		return
	}
	t := time.NewTicker(s.n.cfg.syncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.n.ctx.Done():
			return
		case <-t.C:
		}
		for _, g := range s.n.allGroups() {
			peers := g.topic.ListPeers()
			mrand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
			for i, p := range peers {
				if i == peersPerRound {
					break
				}
				s.request(p, g)
			}
		}
	}
}

func (s *syncer) update(r *syncRun, received, remaining, bytes uint64) {
	s.mu.Lock()
	r.progress.Bytes = bytes
	r.progress.Received += received
	r.progress.Total = r.progress.Received + remaining
	p := r.progress
	s.mu.Unlock()
	s.n.events.publish(Event{Type: EventSync, Group: p.Group, Sync: &p})
}

// countingStream counts the bytes of a sync stream, both ways.
type countingStream struct {
	io.ReadWriter
	n atomic.Uint64
}

func (c *countingStream) Read(p []byte) (int, error) {
	k, err := c.ReadWriter.Read(p)
	c.n.Add(uint64(k))
	return k, err
}

func (c *countingStream) Write(p []byte) (int, error) {
	k, err := c.ReadWriter.Write(p)
	c.n.Add(uint64(k))
	return k, err
}

// pull runs the requester side of one sync with p for g. Pulls of one group
// run one at a time: after one peer has filled us in, the next pull is a
// cheap no-op instead of a second copy of the same history.
func (s *syncer) pull(ctx context.Context, p peer.ID, g *group, r *syncRun) error {
	n := s.n
	g.pullMu.Lock()
	defer g.pullMu.Unlock()
	if !n.host.IsConnected(p) {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	st, err := n.host.NewStream(ctx, p, SyncProtocol)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	stop := context.AfterFunc(n.ctx, func() { st.Reset() })
	defer stop()
	cs := &countingStream{ReadWriter: st}
	defer func() {
		s.mu.Lock()
		r.progress.Bytes = cs.n.Load()
		s.mu.Unlock()
		s.pulledBytes.Add(cs.n.Load())
	}()
	w := pbio.NewDelimitedWriter(cs)
	rd := pbio.NewDelimitedReader(cs, maxBatchWire)

	nonce := make([]byte, 32)
	rand.Read(nonce)
	st.SetDeadline(time.Now().Add(helloTimeout))
	if err := w.WriteMsg(&wirepb.SyncHello{Version: WireVersion, Nonce: nonce, Proof: g.keys.syncProof("req", []byte(n.self), []byte(p), nonce)}); err != nil {
		return err
	}
	var reply wirepb.SyncHelloReply
	if err := pbio.NewDelimitedReader(cs, maxHelloSize).ReadMsg(&reply); err != nil {
		return err
	}
	if !reply.Ok {
		return ErrSyncDenied
	}
	if !hmac.Equal(reply.Proof, g.keys.syncProof("resp", []byte(n.self), []byte(p), nonce)) {
		n.drops.count(ErrSyncDenied)
		return fmt.Errorf("%w: bad proof", ErrSyncDenied)
	}
	n.dialer.rememberConnected(p)

	vec, err := n.st.Vector(g.rec.ID)
	if err != nil {
		return err
	}
	want, err := n.st.Missing(g.rec.ID, maxWant)
	if err != nil {
		return err
	}
	req := &wirepb.SyncRequest{}
	for _, a := range vec {
		req.Have = append(req.Have, &wirepb.AuthorSeq{Author: a.Author, Seq: a.Seq})
	}
	for _, id := range want {
		req.Want = append(req.Want, append([]byte(nil), id[:]...))
	}
	if g.rec.HistoryFromJoin {
		req.SinceMs = g.rec.JoinedMs
	}
	st.SetDeadline(time.Now().Add(batchTimeout))
	if err := w.WriteMsg(req); err != nil {
		return err
	}

	// Reading and storing overlap: the next batch arrives while this one is
	// verified and committed.
	batches := make(chan *wirepb.SyncBatch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		for {
			st.SetReadDeadline(time.Now().Add(batchTimeout))
			var b wirepb.SyncBatch
			if err := rd.ReadMsg(&b); err != nil {
				readErr <- err
				return
			}
			if len(b.Messages) > maxBatchMessages {
				readErr <- fmt.Errorf("%w: sync batch of %d", ErrOversized, len(b.Messages))
				return
			}
			select {
			case batches <- &b:
			case <-n.ctx.Done():
				readErr <- n.ctx.Err()
				return
			}
			if b.Done {
				readErr <- nil
				return
			}
		}
	}()
	// A third stage verifies the next batch while this one is committed.
	type checked struct {
		vs        []*verified
		remaining uint64
	}
	verifiedCh := make(chan checked, 1)
	go func() {
		defer close(verifiedCh)
		for b := range batches {
			verifiedCh <- checked{s.verifyBatch(g, b.Messages), b.Remaining}
		}
	}()
	for c := range verifiedCh {
		if _, err := n.ingest(g, c.vs, ""); err != nil {
			st.Reset()
			for range verifiedCh {
			}
			<-readErr
			return err
		}
		s.update(r, uint64(len(c.vs)), c.remaining, cs.n.Load())
		if s.afterBatch != nil {
			s.afterBatch(p, uint64(len(c.vs)))
		}
	}
	if err := <-readErr; err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("peer closed the stream before the end")
		}
		return err
	}
	return nil
}

// verifyBatch checks signatures on all cores; bad messages are counted and skipped.
func (s *syncer) verifyBatch(g *group, raws [][]byte) []*verified {
	out := make([]*verified, len(raws))
	errs := make([]error, len(raws))
	workers := min(runtime.GOMAXPROCS(0), len(raws))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raws); i += workers {
				out[i], errs[i] = verifySigned(g.rec.ID, raws[i])
			}
		}()
	}
	wg.Wait()
	vs := out[:0]
	for i, v := range out {
		if errs[i] != nil {
			s.n.drops.count(errs[i])
			continue
		}
		vs = append(vs, v)
	}
	return vs
}

// handle serves one sync stream (the responder side).
func (s *syncer) handle(st network.Stream) {
	n := s.n
	defer st.Close()
	select {
	case s.serving <- struct{}{}:
		defer func() { <-s.serving }()
	default:
		st.Reset() // busy: the requester retries later
		return
	}
	stop := context.AfterFunc(n.ctx, func() { st.Reset() })
	defer stop()
	remote := st.Conn().RemotePeer()
	w := pbio.NewDelimitedWriter(st)

	st.SetDeadline(time.Now().Add(helloTimeout))
	var hello wirepb.SyncHello
	if err := pbio.NewDelimitedReader(st, maxHelloSize).ReadMsg(&hello); err != nil {
		n.drops.count(fmt.Errorf("%w: sync hello: %v", ErrMalformed, err))
		return
	}
	var g *group
	if hello.Version == WireVersion {
		for _, cand := range n.allGroups() {
			if hmac.Equal(hello.Proof, cand.keys.syncProof("req", []byte(remote), []byte(n.self), hello.Nonce)) {
				g = cand
				break
			}
		}
	}
	if g == nil {
		// Same answer for "no such group" and "bad proof": a non-member learns nothing.
		n.drops.count(ErrSyncDenied)
		w.WriteMsg(&wirepb.SyncHelloReply{Version: WireVersion, Ok: false})
		return
	}
	if err := w.WriteMsg(&wirepb.SyncHelloReply{Version: WireVersion, Ok: true, Proof: g.keys.syncProof("resp", []byte(remote), []byte(n.self), hello.Nonce)}); err != nil {
		return
	}
	n.dialer.rememberConnected(remote)
	var req wirepb.SyncRequest
	if err := pbio.NewDelimitedReader(st, maxRequestSize).ReadMsg(&req); err != nil {
		n.drops.count(fmt.Errorf("%w: sync request: %v", ErrMalformed, err))
		return
	}
	if len(req.Have) > maxHave || len(req.Want) > maxWant {
		n.drops.count(fmt.Errorf("%w: sync request", ErrOversized))
		return
	}
	entries, err := s.plan(g, &req)
	if err != nil {
		n.log.Warn("sync plan", "err", err)
		st.Reset()
		return
	}
	if err := s.send(st, w, g, entries); err != nil {
		n.log.Debug("sync send", "peer", remote, "err", err)
		st.Reset()
	}
}

type planEntry struct {
	lamport uint64
	id      store.MessageID
}

// plan lists what the requester lacks: per author, every seq above its
// vector entry; plus the ids it asked for by name. Sorted by (lamport, id),
// so parents travel before children.
func (s *syncer) plan(g *group, req *wirepb.SyncRequest) ([]planEntry, error) {
	have := make(map[string]uint64, len(req.Have))
	for _, a := range req.Have {
		if a != nil {
			have[string(a.Author)] = a.Seq
		}
	}
	vec, err := s.n.st.Vector(g.rec.ID)
	if err != nil {
		return nil, err
	}
	seen := map[store.MessageID]bool{}
	var out []planEntry
	for _, a := range vec {
		err := s.n.st.AuthorAfter(g.rec.ID, a.Author, have[string(a.Author)], func(e store.AuthorIndexEntry) bool {
			if e.TimeMs >= req.SinceMs && !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, planEntry{e.Lamport, e.ID})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	for _, w := range req.Want {
		if len(w) != store.MessageIDLen {
			continue
		}
		var id store.MessageID
		copy(id[:], w)
		if seen[id] {
			continue
		}
		if st, err := s.n.st.Get(g.rec.ID, id); err == nil {
			seen[id] = true
			out = append(out, planEntry{st.Lamport, id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].lamport != out[j].lamport {
			return out[i].lamport < out[j].lamport
		}
		return string(out[i].id[:]) < string(out[j].id[:])
	})
	return out, nil
}

func (s *syncer) send(st network.Stream, w pbio.Writer, g *group, entries []planEntry) error {
	total := uint64(len(entries))
	var sent uint64
	batch := &wirepb.SyncBatch{}
	size := 0
	flush := func(done bool) error {
		sent += uint64(len(batch.Messages))
		batch.Remaining = total - sent
		batch.Done = done
		st.SetWriteDeadline(time.Now().Add(batchTimeout))
		err := w.WriteMsg(batch)
		batch = &wirepb.SyncBatch{}
		size = 0
		return err
	}
	add := func(raw []byte) error {
		if len(batch.Messages) == maxBatchMessages || size+len(raw) > maxBatchBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
		batch.Messages = append(batch.Messages, raw)
		size += len(raw)
		return nil
	}
	stats, err := s.n.st.GroupStats(g.rec.ID)
	if err != nil {
		return err
	}
	if len(entries) > 0 && uint64(len(entries)) > stats.Count/4 {
		// A large share of the history: one ordered scan from the first
		// entry beats a random read per message.
		want := make(map[store.MessageID]bool, len(entries))
		for _, e := range entries {
			want[e.id] = true
		}
		start := &store.Cursor{Lamport: entries[0].lamport, ID: entries[0].id}
		first, err := s.n.st.GetAt(g.rec.ID, start.Lamport, start.ID)
		if err != nil {
			return err
		}
		if err := add(first.Raw); err != nil {
			return err
		}
		delete(want, start.ID)
		var werr error
		err = s.n.st.After(g.rec.ID, start, func(m store.Stored) bool {
			if !want[m.ID] {
				return true
			}
			delete(want, m.ID)
			werr = add(m.Raw)
			return werr == nil && len(want) > 0
		})
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		return flush(true)
	}
	for _, e := range entries {
		m, err := s.n.st.GetAt(g.rec.ID, e.lamport, e.id)
		if err != nil {
			return err
		}
		if err := add(m.Raw); err != nil {
			return err
		}
	}
	return flush(true)
}
