package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/parley-chat/parley/node/internal/dmproto"
	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// DMProtocol is the stream an offerer opens to a contact: offerer -> Offer
// (the conversation's log and secret), contact -> Reply. The secure
// channel authenticates both peer ids; the contact checks that the
// offerer is the log's owner and that the log has exactly the two of them.
const DMProtocol = protocol.ID(dmproto.Protocol)

// Bounds of offer delivery.
const (
	dmStepTimeout = 10 * time.Second
	dmMaxTries    = 40
	dmMaxBackoff  = 10 * time.Minute
	dmGiveUpAfter = 30 * 24 * time.Hour
)

// serveDM receives an offer (the contact side).
func (n *Node) serveDM(s network.Stream) {
	defer s.Close()
	remote := s.Conn().RemotePeer()
	s.SetDeadline(time.Now().Add(dmStepTimeout))
	o, err := dmproto.ReadOffer(s)
	if err != nil {
		n.drops.count(fmt.Errorf("%w: %v", ErrBadOffer, err))
		s.Reset()
		return
	}
	rep := &dmproto.Reply{Version: dmproto.Version, Ok: true}
	if err := n.acceptOffer(remote, o); err != nil {
		n.drops.count(err)
		n.log.Info("direct-message offer refused", "peer", remote, "err", err)
		rep = &dmproto.Reply{Version: dmproto.Version, Code: dmproto.CodeInternal, Error: trimReason(err.Error())}
		switch {
		case errors.Is(err, ErrBlockedContact):
			rep.Code, rep.Error = dmproto.CodeBlocked, "blocked"
		case errors.Is(err, ErrBadOffer):
			rep.Code = dmproto.CodeBadOffer
		}
	}
	dmproto.Write(s, rep)
}

// acceptOffer checks an offer from remote and joins the conversation.
func (n *Node) acceptOffer(remote peer.ID, o *dmproto.Offer) error {
	if n.dm.isBlocked(remote) {
		return ErrBlockedContact
	}
	owner, err := memberKeyOfPeer(remote)
	if err != nil {
		return fmt.Errorf("%w: offerer key: %v", ErrBadOffer, err)
	}
	genesis, err := membership.DecodeOp(o.Ops[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	l, err := membership.NewLog(genesis)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	for _, raw := range o.Ops[1:] {
		op, err := membership.DecodeOp(raw)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadOffer, err)
		}
		if _, err := l.Insert(op); err != nil {
			return fmt.Errorf("%w: op: %v", ErrBadOffer, err)
		}
	}
	if err := checkDMLog(l, owner, n.memberKey); err != nil {
		return err
	}
	keys, err := envelope.DeriveKeys(o.GroupSecret)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if g := n.groupByID(keys.ID); g != nil {
		if p, ok := n.dm.peerOf(keys.ID); ok && p == remote {
			return nil // offered again: already held
		}
		return fmt.Errorf("%w: a group held already, not a conversation with the offerer", ErrBadOffer)
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return err
	}
	if _, err := l.State().OpenEpochSecret(l.State().Current().ID, self.Key(), self.HPKE); err != nil {
		return fmt.Errorf("%w: epoch secret: %v", ErrBadOffer, err)
	}
	// The offerer becomes a contact if it is not one: the genesis carries
	// its name and HPKE key.
	if _, err := n.st.GetContact([]byte(remote)); errors.Is(err, store.ErrNotFound) {
		if _, err := n.keepContact(remote, genesis.Name, genesis.HPKEKey, o.Addrs); err != nil {
			return err
		}
	} else if err != nil {
		return err
	} else if len(o.Addrs) > 0 {
		n.reach.Remember(addrInfoOf(remote, o.Addrs))
	}
	if err := n.keepLog(keys.ID, l, self); err != nil {
		return err
	}
	now := n.cfg.now().UnixMilli()
	if err := n.keepPair(store.Pair{Group: keys.ID, Peer: []byte(remote), CreatedMs: now}, remote); err != nil {
		return err
	}
	c, _ := n.st.GetContact([]byte(remote))
	rec := store.Group{ID: keys.ID, Name: c.Name, Secret: o.GroupSecret, CreatedMs: o.CreatedMs, JoinedMs: now}
	lamport := min(o.Lamport, envelope.MaxLamport/2)
	if _, err := n.addGroup(n.ctx, rec, func(g *group) { g.minLamport = lamport }); err != nil {
		return err
	}
	if err := n.adoptPair(store.Pair{Group: keys.ID}, remote); err != nil {
		return err
	}
	if g := n.groupByID(keys.ID); g != nil {
		n.sync.Request(remote, g.sync)
	}
	n.log.Info("direct-message conversation accepted", "peer", remote)
	return nil
}

// offer builds the offer of a conversation we own.
func (n *Node) offer(g *group) (*dmproto.Offer, error) {
	o := &dmproto.Offer{Version: dmproto.Version, GroupSecret: g.rec.Secret, CreatedMs: g.rec.CreatedMs,
		HpkeKey: membership.HPKEPublic(n.id.currentHPKE()), Addrs: n.ownAddrs()}
	if stats, err := n.st.GroupStats(g.rec.ID); err == nil {
		o.Lamport = stats.MaxLamport
	}
	g.mem.mu.Lock()
	ops := g.mem.log.Ops()
	g.mem.mu.Unlock()
	if len(ops) > dmproto.MaxOfferOps {
		return nil, fmt.Errorf("conversation log of %d ops too long to offer", len(ops))
	}
	for _, op := range ops {
		o.Ops = append(o.Ops, op.Encode())
	}
	return o, nil
}

// deliver sends one pending offer. done reports a final answer (accepted
// or refused); err a failure worth retrying.
func (n *Node) deliver(ctx context.Context, pr store.Pair) (done bool, err error) {
	id, err := peer.IDFromBytes(pr.Peer)
	if err != nil {
		return true, err
	}
	if n.dm.isBlocked(id) {
		return false, ErrBlocked // held until unblocked (or given up)
	}
	g := n.groupByID(pr.Group)
	if g == nil {
		return true, ErrGroupNotFound
	}
	o, err := n.offer(g)
	if err != nil {
		return true, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*dmStepTimeout)
	defer cancel()
	if !n.host.IsConnected(id) {
		ai := peer.AddrInfo{ID: id}
		if c, err := n.st.GetContact(pr.Peer); err == nil {
			ai = addrInfoOf(id, c.Addrs)
		}
		ai.Addrs = append(ai.Addrs, n.host.PeerAddrs(id)...)
		if len(ai.Addrs) == 0 {
			return false, errors.New("no address known")
		}
		if err := n.host.Connect(ctx, ai, p2p.SourceDirect); err != nil {
			return false, err
		}
	}
	s, err := n.host.NewStream(ctx, id, DMProtocol)
	if err != nil {
		return false, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	s.SetDeadline(time.Now().Add(2 * dmStepTimeout))
	if err := dmproto.Write(s, o); err != nil {
		return false, err
	}
	rep, err := dmproto.ReadReply(s)
	if err != nil {
		return false, err
	}
	if !rep.Ok && rep.Code == dmproto.CodeBlocked {
		return false, fmt.Errorf("refused: %s", rep.Code) // it may unblock us: retried, bounded
	}
	if !rep.Ok {
		return true, fmt.Errorf("refused: %s: %s", rep.Code, trimReason(rep.Error))
	}
	n.reach.RememberConnected(id)
	return true, nil
}

// outboxLoop delivers pending offers: every dmRetry for those due, at once
// when kicked (a new conversation, a peer connecting, an unblock).
func (n *Node) outboxLoop() {
	t := time.NewTicker(dmRetry)
	defer t.Stop()
	n.dm.mu.Lock()
	kick := n.dm.kick
	n.dm.mu.Unlock()
	n.flushOutbox(false)
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.flushOutbox(false)
		case <-kick:
			n.flushOutbox(true)
		}
	}
}

// flushOutbox tries the pending offers that are due (all, if now).
func (n *Node) flushOutbox(now bool) {
	pairs, err := n.st.Pairs()
	if err != nil {
		n.log.Warn("load direct-message offers", "err", err)
		return
	}
	for _, pr := range pairs {
		if !pr.Pending || n.ctx.Err() != nil {
			continue
		}
		at := n.cfg.now()
		if !now && at.UnixMilli() < pr.NextMs {
			continue
		}
		done, err := n.deliver(n.ctx, pr)
		if n.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrBlocked) {
			continue // held, not tried, while we block the contact
		}
		if !done {
			pr.Tries++
			pr.NextMs = at.Add(min(dmMaxBackoff, time.Second<<min(pr.Tries, 20))).UnixMilli()
			if pr.Tries >= dmMaxTries || at.Sub(time.UnixMilli(pr.CreatedMs)) > dmGiveUpAfter {
				done = true
				n.log.Warn("direct-message offer given up", "tries", pr.Tries, "err", err)
			}
		} else if err != nil {
			n.log.Warn("direct-message offer", "err", err)
		}
		pr.Pending = !done
		if err := n.st.PutPair(pr); err != nil {
			n.log.Warn("save direct-message offer", "err", err)
		}
	}
}

// dmOnConnect retries offers to a peer that just connected.
func (n *Node) dmOnConnect(p peer.ID) {
	if _, err := n.st.GetContact([]byte(p)); err == nil {
		n.dmKick()
	}
}
