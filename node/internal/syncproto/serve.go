package syncproto

import (
	"context"
	"crypto/hmac"
	"fmt"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Handle serves one sync stream (the responder side): the host's handler
// for Protocol.
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
	select {
	case s.serving <- struct{}{}:
		defer func() { <-s.serving }()
	default:
		st.Reset() // busy: the requester retries later
		return
	}
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	remote := st.Conn().RemotePeer()
	w := pbio.NewDelimitedWriter(st)

	st.SetDeadline(time.Now().Add(helloTimeout))
	var hello wirepb.SyncHello
	if err := pbio.NewDelimitedReader(st, MaxHelloSize).ReadMsg(&hello); err != nil {
		s.drop(fmt.Errorf("%w: sync hello: %v", envelope.ErrMalformed, err))
		return
	}
	var g *Group
	if hello.Version == envelope.WireVersion {
		for _, cand := range s.cfg.Groups() {
			if hmac.Equal(hello.Proof, cand.Keys.SyncProof("req", []byte(remote), []byte(s.cfg.Self), hello.Nonce)) &&
				(cand.Allow == nil || cand.Allow(remote)) {
				g = cand
				break
			}
		}
	}
	if g == nil {
		// Same answer for "no such group" and "bad proof": a non-member learns nothing.
		s.drop(ErrDenied)
		w.WriteMsg(&wirepb.SyncHelloReply{Version: envelope.WireVersion, Ok: false})
		return
	}
	if err := w.WriteMsg(&wirepb.SyncHelloReply{Version: envelope.WireVersion, Ok: true, Proof: g.Keys.SyncProof("resp", []byte(remote), []byte(s.cfg.Self), hello.Nonce)}); err != nil {
		return
	}
	s.member(remote)
	var req wirepb.SyncRequest
	if err := pbio.NewDelimitedReader(st, MaxRequestSize).ReadMsg(&req); err != nil {
		s.drop(fmt.Errorf("%w: sync request: %v", envelope.ErrMalformed, err))
		return
	}
	if len(req.Have) > MaxHave || len(req.Want) > MaxWant {
		s.drop(fmt.Errorf("%w: sync request", envelope.ErrOversized))
		return
	}
	entries, err := s.Plan(g, &req)
	if err != nil {
		s.log.Warn("sync plan", "err", err)
		st.Reset()
		return
	}
	if err := s.send(st, w, g, entries); err != nil {
		s.log.Debug("sync send", "peer", remote, "err", err)
		st.Reset()
	}
}

// PlanEntry is one message a responder sends.
type PlanEntry struct {
	Lamport uint64
	ID      store.MessageID
}

// Plan lists what the requester lacks: per author, every seq above its
// vector entry; plus the ids it asked for by name. Sorted by (lamport, id),
// so parents travel before children.
func (s *Syncer) Plan(g *Group, req *wirepb.SyncRequest) ([]PlanEntry, error) {
	have := make(map[string]uint64, len(req.Have))
	for _, a := range req.Have {
		if a != nil {
			have[string(a.Author)] = a.Seq
		}
	}
	vec, err := s.cfg.Store.Vector(g.ID)
	if err != nil {
		return nil, err
	}
	seen := map[store.MessageID]bool{}
	var out []PlanEntry
	for _, a := range vec {
		err := s.cfg.Store.AuthorAfter(g.ID, a.Author, have[string(a.Author)], func(e store.AuthorIndexEntry) bool {
			if e.TimeMs >= req.SinceMs && !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, PlanEntry{e.Lamport, e.ID})
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
		if st, err := s.cfg.Store.Get(g.ID, id); err == nil {
			seen[id] = true
			out = append(out, PlanEntry{st.Lamport, id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Lamport != out[j].Lamport {
			return out[i].Lamport < out[j].Lamport
		}
		return string(out[i].ID[:]) < string(out[j].ID[:])
	})
	return out, nil
}

func (s *Syncer) send(st network.Stream, w pbio.Writer, g *Group, entries []PlanEntry) error {
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
		if len(batch.Messages) == MaxBatchMessages || size+len(raw) > maxBatchBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
		batch.Messages = append(batch.Messages, raw)
		size += len(raw)
		return nil
	}
	stats, err := s.cfg.Store.GroupStats(g.ID)
	if err != nil {
		return err
	}
	if len(entries) > 0 && uint64(len(entries)) > stats.Count/4 {
		// A large share of the history: one ordered scan from the first
		// entry beats a random read per message.
		want := make(map[store.MessageID]bool, len(entries))
		for _, e := range entries {
			want[e.ID] = true
		}
		start := &store.Cursor{Lamport: entries[0].Lamport, ID: entries[0].ID}
		first, err := s.cfg.Store.GetAt(g.ID, start.Lamport, start.ID)
		if err != nil {
			return err
		}
		if err := add(first.Raw); err != nil {
			return err
		}
		delete(want, start.ID)
		var werr error
		err = s.cfg.Store.After(g.ID, start, func(m store.Stored) bool {
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
		m, err := s.cfg.Store.GetAt(g.ID, e.Lamport, e.ID)
		if err != nil {
			return err
		}
		if err := add(m.Raw); err != nil {
			return err
		}
	}
	return flush(true)
}
