package syncproto

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
)

// Handle serves one sync stream (the responder side): the host's handler
// for Protocol. A stream costs a slot only while it earns it: each peer
// holds at most PerPeer streams, a stream waits for its hello in an
// unproven slot (MaxUnproven, HelloTimeout) and only a proven member takes
// one of the MaxServing slots. Every read and write has a deadline.
func (s *Syncer) Handle(st network.Stream) {
	defer st.Close()
	ctx := s.context()
	if ctx.Err() != nil {
		st.Reset()
		return
	}
	if !s.enterServe() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	remote := st.Conn().RemotePeer()
	lim := s.limits()
	if !s.take(remote, &s.unproven, lim.MaxUnproven, true) {
		s.drop(ErrBusy)
		st.Reset()
		return
	}
	proven := false
	defer func() {
		if proven {
			s.give(remote, &s.serving)
		} else {
			s.give(remote, &s.unproven)
		}
	}()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	w := pbio.NewDelimitedWriter(st)

	st.SetDeadline(time.Now().Add(lim.HelloTimeout))
	var hello wirepb.SyncHello
	if err := pbio.NewDelimitedReader(st, MaxHelloSize).ReadMsg(&hello); err != nil {
		s.drop(readRefusal("sync hello", err))
		st.Reset()
		return
	}
	g := s.prove(remote, &hello)
	if g == nil {
		// Same answer for "no such group" and "bad proof": a non-member learns nothing.
		s.drop(ErrDenied)
		w.WriteMsg(&wirepb.SyncHelloReply{Version: envelope.WireVersion, Ok: false})
		return
	}
	if !s.promote(remote, lim.MaxServing) {
		s.drop(ErrBusy)
		st.Reset() // busy: the requester retries later
		return
	}
	proven = true
	st.SetDeadline(time.Now().Add(lim.WriteTimeout))
	if err := w.WriteMsg(&wirepb.SyncHelloReply{Version: envelope.WireVersion, Ok: true, Proof: g.Keys.SyncProof("resp", []byte(remote), []byte(s.cfg.Self), hello.Nonce)}); err != nil {
		st.Reset()
		return
	}
	s.member(remote, g)
	st.SetDeadline(time.Now().Add(lim.RequestTimeout))
	var req wirepb.SyncRequest
	if err := pbio.NewDelimitedReader(st, MaxRequestSize).ReadMsg(&req); err != nil {
		s.drop(readRefusal("sync request", err))
		st.Reset()
		return
	}
	st.SetReadDeadline(time.Time{})
	if len(req.Have) > MaxHave || len(req.Want) > MaxWant {
		s.drop(fmt.Errorf("%w: sync request", envelope.ErrOversized))
		st.Reset()
		return
	}
	var floor int64
	if g.MinSince != nil {
		floor = g.MinSince(remote)
		// An honest joiner asks from its join (a few ms before its Join
		// message's time); much earlier is a client asking for more.
		if req.SinceMs < floor-floorSlackMs {
			s.drop(ErrBeforeJoin)
		}
	}
	deadline := func() { st.SetWriteDeadline(time.Now().Add(lim.WriteTimeout)) }
	if err := s.answer(g, &req, floor, w, deadline); err != nil {
		s.log.Debug("sync send", "peer", remote, "err", err)
		st.Reset()
	}
}

// ErrBeforeJoin counts a request for history from before the requester's
// join in a history-from-join group (served from the join regardless).
var ErrBeforeJoin = errors.New("history-before-join")

// ErrCut counts a requester that closed, reset or stalled its stream
// before its hello or request was read whole (a pull cut by its own
// deadline does this): a gone peer, not malformed input.
var ErrCut = errors.New("sync-cut")

// readRefusal names why a hello or request could not be read: the stream
// ended or stalled (ErrCut), or what arrived does not decode (malformed).
func readRefusal(what string, err error) error {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, network.ErrReset) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) {
		return fmt.Errorf("%w: %s: %v", ErrCut, what, err)
	}
	return fmt.Errorf("%w: %s: %v", envelope.ErrMalformed, what, err)
}

const floorSlackMs = 60_000

// prove returns the group whose proof the hello carries, if remote may sync it.
func (s *Syncer) prove(remote peer.ID, hello *wirepb.SyncHello) *Group {
	if hello.Version != envelope.WireVersion {
		return nil
	}
	for _, cand := range s.cfg.Groups() {
		if hmac.Equal(hello.Proof, cand.Keys.SyncProof("req", []byte(remote), []byte(s.cfg.Self), hello.Nonce)) {
			if cand.Allow != nil && !cand.Allow(remote) {
				// It holds the key but our log does not list it: a removed
				// member, or a member whose admission we have not heard of
				// yet. Probes go to listed members only, so pull from it:
				// what it holds may list it (it is not admitted on that).
				// A joiner need not hold its admission's message yet (the
				// join reply carries the log, not the message), so one
				// other member is asked too: nothing else would fetch that
				// message with periodic sync off, and the joiner, once
				// admitted on its side, stops asking. A removed member
				// asking again costs each of those peers one pull at a
				// time (Request coalesces).
				s.Request(remote, cand)
				s.elsewhere(remote, cand)
				return nil
			}
			return cand
		}
	}
	return nil
}

// take reserves one of limit slots in *used for p, within p's own cap when
// perPeer is set.
func (s *Syncer) take(p peer.ID, used *int, limit int, perPeer bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *used >= limit || (perPeer && s.perPeer[p] >= s.lim.PerPeer) {
		return false
	}
	*used++
	if perPeer {
		s.perPeer[p]++
	}
	return true
}

// promote moves p's stream from an unproven slot to a serving one.
func (s *Syncer) promote(p peer.ID, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving >= limit {
		return false
	}
	s.unproven--
	s.serving++
	return true
}

// give releases a slot taken with take (and p's share).
func (s *Syncer) give(p peer.ID, used *int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*used--
	if s.perPeer[p]--; s.perPeer[p] <= 0 {
		delete(s.perPeer, p)
	}
}
