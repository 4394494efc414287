package syncproto

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

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
// cheap no-op instead of a second copy of the same history. Every wait on
// p has a deadline (StallTimeout) and the whole pull one (PullTimeout), so a
// peer that stalls or dribbles holds the group's pull lock only that long.
func (s *Syncer) pull(parent context.Context, p peer.ID, g *Group, r *syncRun) (err error) {
	g.pullMu.Lock()
	defer g.pullMu.Unlock()
	if !s.cfg.Net.IsConnected(p) {
		return errors.New("not connected")
	}
	lim := s.limits()
	life, cancelPull := context.WithTimeout(parent, lim.PullTimeout)
	defer cancelPull()
	defer func() {
		if err != nil && parent.Err() == nil && errors.Is(life.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %v", errPullTimeout, err)
		}
	}()
	// At most PerPeer pulls to one peer at once (pulls of several groups),
	// so an honest requester never meets the responder's per-peer cap.
	out := s.outgoing(p, lim.PerPeer)
	select {
	case out <- struct{}{}:
		defer func() { <-out }()
	case <-life.Done():
		return life.Err()
	}
	ctx, cancel := context.WithTimeout(life, lim.StallTimeout)
	st, err := s.cfg.Net.NewStream(ctx, p, Protocol)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	stop := context.AfterFunc(life, func() { st.Reset() })
	defer stop()
	cs := &countingStream{ReadWriter: st}
	defer func() {
		s.mu.Lock()
		r.progress.Bytes = cs.n.Load()
		s.mu.Unlock()
		s.pulledBytes.Add(cs.n.Load())
		s.pullCount.Add(1)
	}()
	w := pbio.NewDelimitedWriter(cs)
	rd := pbio.NewDelimitedReader(cs, maxBatchWire)

	nonce := make([]byte, 32)
	rand.Read(nonce)
	st.SetDeadline(time.Now().Add(lim.StallTimeout))
	if err := w.WriteMsg(&wirepb.SyncHello{Version: envelope.WireVersion, Nonce: nonce, Proof: g.Keys.SyncProof("req", []byte(s.cfg.Self), []byte(p), nonce)}); err != nil {
		return err
	}
	var reply wirepb.SyncHelloReply
	if err := pbio.NewDelimitedReader(cs, MaxHelloSize).ReadMsg(&reply); err != nil {
		return err
	}
	if !reply.Ok {
		return ErrDenied
	}
	if !hmac.Equal(reply.Proof, g.Keys.SyncProof("resp", []byte(s.cfg.Self), []byte(p), nonce)) {
		s.drop(ErrDenied)
		return fmt.Errorf("%w: bad proof", ErrDenied)
	}
	if g.Allow == nil || g.Allow(p) {
		s.member(p, g) // a key holder our log does not list is pulled from, not admitted
	}

	before, err := s.cfg.Store.VectorRanges(g.ID)
	if err != nil {
		return err
	}
	want, err := s.cfg.Store.Missing(g.ID, MaxWant)
	if err != nil {
		return err
	}
	want = g.wanted(p, want)
	req := &wirepb.SyncRequest{}
	for _, a := range before {
		req.Have = append(req.Have, &wirepb.AuthorSeq{Author: a.Author, Seq: g.haveFor(s.cfg.Store, p, a)})
	}
	for _, id := range want {
		req.Want = append(req.Want, append([]byte(nil), id[:]...))
	}
	req.SinceMs = g.SinceMs
	st.SetDeadline(time.Now().Add(lim.StallTimeout))
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
			st.SetReadDeadline(time.Now().Add(lim.StallTimeout))
			var b wirepb.SyncBatch
			if err := rd.ReadMsg(&b); err != nil {
				readErr <- err
				return
			}
			if len(b.Messages) > MaxBatchMessages {
				readErr <- fmt.Errorf("%w: sync batch of %d", envelope.ErrOversized, len(b.Messages))
				return
			}
			select {
			case batches <- &b:
			case <-life.Done():
				readErr <- life.Err()
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
		vs        []*envelope.Verified
		remaining uint64
	}
	verifiedCh := make(chan checked, 1)
	go func() {
		defer close(verifiedCh)
		for b := range batches {
			verifiedCh <- checked{s.VerifyBatch(g, b.Messages), b.Remaining}
		}
	}()
	for c := range verifiedCh {
		if err := s.cfg.Ingest(g, c.vs); err != nil {
			st.Reset()
			for range verifiedCh {
			}
			<-readErr
			return err
		}
		s.update(r, uint64(len(c.vs)), c.remaining, cs.n.Load())
		if s.AfterBatch != nil {
			s.AfterBatch(p, uint64(len(c.vs)))
		}
	}
	if err := <-readErr; err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("peer closed the stream before the end")
		}
		return err
	}
	// Complete: p sent all it holds past our vector. What is still missing
	// p lacks too; holes that outlive holeStrikes such pulls from p are given
	// up with p.
	if after, err := s.cfg.Store.VectorRanges(g.ID); err == nil {
		missing := map[store.MessageID]bool{}
		if still, err := s.cfg.Store.Missing(g.ID, MaxWant); err == nil {
			for _, id := range still {
				missing[id] = true
			}
		}
		g.afterPull(s.cfg.Store, p, before, after, want, func(id store.MessageID) bool { return missing[id] }, s.drop)
	}
	return nil
}

// errPullTimeout marks a pull ended by PullTimeout (not by a stall).
var errPullTimeout = errors.New("pull time limit reached")

// continues reports whether a pull that ended with err should be run again
// at once: it hit PullTimeout while still storing pages, so a long
// catch-up goes on instead of waiting for the periodic sync. A peer can
// keep this up only by sending full pages of messages we lacked, which
// runs out; one that dribbles is left to the periodic sync.
func continues(err error, received uint64) bool {
	return errors.Is(err, errPullTimeout) && received >= MaxBatchMessages
}

// outgoing is p's semaphore of concurrent pulls. Entries stay for the
// Syncer's life: one small channel per peer ever pulled from.
func (s *Syncer) outgoing(p peer.ID, n int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pulls == nil {
		s.pulls = map[peer.ID]chan struct{}{}
	}
	c, ok := s.pulls[p]
	if !ok {
		c = make(chan struct{}, n)
		s.pulls[p] = c
	}
	return c
}

// stalled reports whether a pull failed for want of an answer in time (try
// another peer) rather than by refusal or our own shutdown.
func stalled(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, network.ErrReset) || (errors.As(err, &te) && te.Timeout())
}

// elsewhere asks another connected member of g for what p failed to send.
func (s *Syncer) elsewhere(p peer.ID, g *Group) {
	if g.Peers == nil {
		return
	}
	peers := g.Peers()
	mrand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	for _, q := range peers {
		if q != p && q != s.cfg.Self {
			s.Request(q, g)
			return
		}
	}
}

// VerifyBatch checks a page's messages on all cores, each distinct batch
// signature once (envelope.Verifier.Many); bad messages are counted and skipped.
func (s *Syncer) VerifyBatch(g *Group, raws [][]byte) []*envelope.Verified {
	out, errs := s.cfg.Verifier.Many(g.ID, raws)
	vs := out[:0]
	for i, v := range out {
		if errs[i] != nil {
			s.drop(errs[i])
			continue
		}
		vs = append(vs, v)
	}
	return vs
}

// Pull runs one pull of g from p now, on the caller's goroutine, and
// returns its progress (tests and benchmarks).
func (s *Syncer) Pull(ctx context.Context, p peer.ID, g *Group) (Progress, error) {
	r := &syncRun{progress: Progress{Peer: p.String(), Group: hex.EncodeToString(g.ID[:]), Started: time.Now()}}
	err := s.pull(ctx, p, g, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.progress, err
}
