package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
)

// JoinProtocol is the stream a joiner opens to a member to be admitted:
// member -> JoinChallenge, joiner -> JoinRequest (invite proof over the
// challenge), member -> JoinReply (group secret and membership log, or why
// not).
const JoinProtocol = protocol.ID("/parley/join/1.0.0")

// Bounds of the join protocol.
const (
	joinVersion         = 1
	maxJoinChallenge    = 256
	maxJoinRequest      = 4 << 10
	maxJoinReply        = 8 << 20
	maxJoinOps          = 20000
	joinStepTimeout     = 10 * time.Second
	joinTimeout         = 30 * time.Second
	joinCodeExpired     = "expired"
	joinCodeRevoked     = "revoked"
	joinCodeUsedUp      = "used-up"
	joinCodeUnknown     = "unknown"
	joinCodeBadProof    = "bad-proof"
	joinCodeNotHere     = "not-here"
	joinCodeInternalErr = "internal"
)

var joinCodes = map[string]error{
	joinCodeExpired: membership.ErrInviteExpired, joinCodeRevoked: membership.ErrInviteRevoked,
	joinCodeUsedUp: membership.ErrInviteUsedUp, joinCodeUnknown: membership.ErrUnknownInvite,
	joinCodeBadProof: membership.ErrBadInviteProof,
}

func joinCodeOf(err error) string {
	for c, e := range joinCodes {
		if errors.Is(err, e) {
			return c
		}
	}
	return joinCodeInternalErr
}

// serveJoin admits the holder of a valid invite (the member side).
func (n *Node) serveJoin(s network.Stream) {
	defer s.Close()
	remote := s.Conn().RemotePeer()
	w := pbio.NewDelimitedWriter(s)
	challenge := membership.NewChallenge()
	s.SetDeadline(time.Now().Add(joinStepTimeout))
	if err := w.WriteMsg(&wirepb.JoinChallenge{Version: joinVersion, Challenge: challenge}); err != nil {
		return
	}
	var req wirepb.JoinRequest
	if err := pbio.NewDelimitedReader(s, maxJoinRequest).ReadMsg(&req); err != nil {
		n.drops.count(fmt.Errorf("%w: join request: %v", ErrMalformed, err))
		s.Reset()
		return
	}
	s.SetDeadline(time.Now().Add(joinStepTimeout))
	rep := n.admitJoiner(remote, &req, challenge)
	w.WriteMsg(rep)
}

// decodeJoinRequest checks a JoinRequest's fields.
func decodeJoinRequest(req *wirepb.JoinRequest) (membership.JoinRequest, error) {
	var jr membership.JoinRequest
	if req.Version != joinVersion || len(req.Group) != len(jr.Group) || len(req.InviteId) != len(jr.InviteID) ||
		len(req.Key) != len(jr.Key) || len(req.HpkeKey) == 0 || len(req.HpkeKey) > 256 || len(req.Name) > MaxNameLen ||
		len(req.Challenge) > maxJoinChallenge || len(req.Proof) > 256 {
		return jr, fmt.Errorf("%w: join request fields", ErrMalformed)
	}
	copy(jr.Group[:], req.Group)
	copy(jr.InviteID[:], req.InviteId)
	copy(jr.Key[:], req.Key)
	jr.HPKEKey, jr.Name, jr.Challenge, jr.Proof = req.HpkeKey, req.Name, req.Challenge, req.Proof
	return jr, nil
}

func (n *Node) admitJoiner(remote peer.ID, req *wirepb.JoinRequest, challenge []byte) *wirepb.JoinReply {
	fail := func(code string, err error) *wirepb.JoinReply {
		n.log.Info("join refused", "peer", remote, "err", err)
		return &wirepb.JoinReply{Version: joinVersion, Code: code, Error: err.Error()}
	}
	jr, err := decodeJoinRequest(req)
	if err != nil {
		return fail(joinCodeBadProof, err)
	}
	// The stream's peer must be the key being admitted: nobody can have
	// someone else admitted with a stolen invite.
	if k, err := memberKeyOfPeer(remote); err != nil || k != jr.Key {
		return fail(joinCodeBadProof, fmt.Errorf("%w: joiner key is not the stream's peer", membership.ErrBadInviteProof))
	}
	g := n.groupByLog(jr.Group)
	if g == nil {
		return fail(joinCodeNotHere, errors.New("not a member of that group"))
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return fail(joinCodeInternalErr, err)
	}
	m := g.mem
	m.mu.Lock()
	cur := m.log.State().Current().ID
	op, err := m.log.Admit(self, jr, challenge, n.cfg.now())
	if err != nil {
		m.mu.Unlock()
		return fail(joinCodeOf(err), err)
	}
	ops := m.log.Ops()
	m.mu.Unlock()
	if err := n.sendOp(n.ctx, g, op, cur); err != nil {
		// Stored: sync spreads it; the joiner is admitted all the same.
		n.log.Warn("publish join op", "err", err)
	}
	n.react(g)
	// The joiner proves membership in its first sync, which fails until it
	// has opened the group: it asks us then, and we keep asking (admit.go).
	n.retryUnadmitted(g)
	rep := &wirepb.JoinReply{Version: joinVersion, Ok: true, GroupSecret: g.rec.Secret, GroupName: g.name(),
		HistoryFromJoin: g.rec.HistoryFromJoin, CreatedMs: g.rec.CreatedMs}
	if stats, err := n.st.GroupStats(g.rec.ID); err == nil {
		rep.Lamport = stats.MaxLamport
	}
	size := 0
	for _, o := range ops {
		b := o.Encode()
		if len(rep.Ops) == maxJoinOps || size+len(b) > maxJoinReply-(64<<10) {
			return fail(joinCodeInternalErr, errors.New("membership log too large to send"))
		}
		size += len(b) + 4
		rep.Ops = append(rep.Ops, b)
	}
	return rep
}

// requestJoin runs the joiner's side and returns the reply and the log it
// carries, checked: the group the token names, with us admitted.
func (n *Node) requestJoin(ctx context.Context, p peer.ID, tok membership.InviteToken) (*wirepb.JoinReply, *membership.Log, error) {
	s, err := n.host.NewStream(ctx, p, JoinProtocol)
	if err != nil {
		return nil, nil, fmt.Errorf("join: open stream to inviter: %w", err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	s.SetDeadline(time.Now().Add(joinStepTimeout))
	var ch wirepb.JoinChallenge
	if err := pbio.NewDelimitedReader(s, maxJoinChallenge).ReadMsg(&ch); err != nil {
		return nil, nil, fmt.Errorf("join: read challenge: %w", err)
	}
	if err := checkJoinChallenge(&ch); err != nil {
		return nil, nil, err
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return nil, nil, err
	}
	hpub := membership.HPKEPublic(self.HPKE)
	jr, err := membership.ProveInvite(tok.Secret, tok.Group, self.Key(), hpub, memberName(n.displayName()), ch.Challenge)
	if err != nil {
		return nil, nil, fmt.Errorf("join: %w", err)
	}
	req := &wirepb.JoinRequest{Version: joinVersion, Group: jr.Group[:], InviteId: jr.InviteID[:], Key: jr.Key[:],
		HpkeKey: jr.HPKEKey, Name: jr.Name, Challenge: jr.Challenge, Proof: jr.Proof}
	s.SetDeadline(time.Now().Add(joinTimeout))
	if err := pbio.NewDelimitedWriter(s).WriteMsg(req); err != nil {
		return nil, nil, fmt.Errorf("join: send request: %w", err)
	}
	var rep wirepb.JoinReply
	if err := pbio.NewDelimitedReader(s, maxJoinReply).ReadMsg(&rep); err != nil {
		return nil, nil, fmt.Errorf("join: read reply: %w", err)
	}
	l, err := checkJoinReply(&rep, tok.Group, self.Key())
	if err != nil {
		return nil, nil, err
	}
	return &rep, l, nil
}

// checkJoinReply turns a reply into the refusal's sentinel, or the log it
// carries after checking it is the invite's group with self admitted.
func checkJoinReply(rep *wirepb.JoinReply, group membership.GroupID, self membership.Key) (*membership.Log, error) {
	if rep.Version != joinVersion {
		return nil, fmt.Errorf("join: %w: reply version %d", ErrMalformed, rep.Version)
	}
	if !rep.Ok {
		if e, ok := joinCodes[rep.Code]; ok {
			return nil, fmt.Errorf("join refused: %w", e)
		}
		return nil, fmt.Errorf("join refused: %s", trimReason(rep.Error))
	}
	if len(rep.Ops) == 0 || len(rep.Ops) > maxJoinOps {
		return nil, fmt.Errorf("join: %w: %d ops", ErrMalformed, len(rep.Ops))
	}
	genesis, err := membership.DecodeOp(rep.Ops[0])
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	l, err := membership.NewLog(genesis)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if l.Group() != group {
		return nil, fmt.Errorf("join: %w: the log is another group's", ErrMalformed)
	}
	for _, raw := range rep.Ops[1:] {
		o, err := membership.DecodeOp(raw)
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		if _, err := l.Insert(o); err != nil {
			return nil, fmt.Errorf("join: membership op: %w", err)
		}
	}
	if _, ok := l.State().Member(self); !ok {
		return nil, fmt.Errorf("join: %w: the log does not admit us", ErrMalformed)
	}
	if err := checkGroupSecret(rep.GroupSecret); err != nil {
		return nil, err
	}
	return l, nil
}

func checkGroupSecret(s []byte) error {
	if len(s) != SecretLen {
		return fmt.Errorf("join: %w: group secret of %d bytes", ErrMalformed, len(s))
	}
	return nil
}

func trimReason(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func checkJoinChallenge(ch *wirepb.JoinChallenge) error {
	if ch.Version != joinVersion || len(ch.Challenge) == 0 || len(ch.Challenge) > maxJoinChallenge {
		return fmt.Errorf("join: %w: challenge", ErrMalformed)
	}
	return nil
}
