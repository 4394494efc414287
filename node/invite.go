package node

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/reach"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

const (
	invitePrefix  = "parley1"
	maxInviteLen  = 4096
	maxInviteAddr = 16
	// InviteVersion is the invite code's: 2 carries a membership token.
	InviteVersion = 2
)

var inviteEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Invite returns a code that lets its holder ask to join the group: an
// invite with the defaults (CreateInvite).
func (n *Node) Invite(ref string) (string, error) {
	code, _, err := n.CreateInvite(n.ctx, ref, InviteOptions{})
	return code, err
}

// inviteRelayWait bounds how long an invite waits for a relay slot.
const inviteRelayWait = 3 * time.Second

// inviteCode wraps a membership invite token with our addresses.
func (n *Node) inviteCode(g *group, tok membership.InviteToken) (string, error) {
	inv := &wirepb.Invite{
		Version: InviteVersion, GroupName: g.name(), Token: tok.Bytes(), GroupId: g.rec.ID[:], Inviter: []byte(n.self),
		CreatedMs: n.cfg.now().UnixMilli(), HistoryFromJoin: g.rec.HistoryFromJoin,
	}
	if stats, err := n.st.GroupStats(g.rec.ID); err == nil {
		inv.Lamport = stats.MaxLamport
	}
	// Relay (/p2p-circuit) addresses first, so the cap never drops them: a
	// joiner behind another NAT reaches us, and the DHT, through the relay.
	// Just after start the relay slot may not be held yet: wait for it a
	// little, so an early invite does not leave the joiner a minute behind.
	ctx, cancel := context.WithTimeout(n.ctx, inviteRelayWait)
	n.host.AwaitRelayAddr(ctx)
	cancel()
	addrs := n.host.ListenAddrs() // a group exists only once started
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return reach.CmpBool(reach.IsCircuit(b), reach.IsCircuit(a)) })
	for i, a := range addrs {
		if i == maxInviteAddr {
			break
		}
		inv.InviterAddrs = append(inv.InviterAddrs, a.Bytes())
	}
	b, err := proto.Marshal(inv)
	if err != nil {
		return "", err
	}
	return invitePrefix + strings.ToLower(inviteEncoding.EncodeToString(b)), nil
}

// DecodedInvite is an invite's content.
type DecodedInvite struct {
	GroupName string
	// GroupID is the local group id (hex), as GroupInfo.ID; the joiner
	// checks it against the group secret the admitting member sends.
	GroupID         string
	Inviter         peer.AddrInfo
	HistoryFromJoin bool
	lamport         uint64
	token           membership.InviteToken
}

// DecodeInvite parses and checks an invite code.
func DecodeInvite(code string) (DecodedInvite, error) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) > maxInviteLen || !strings.HasPrefix(strings.ToLower(code), invitePrefix) {
		return DecodedInvite{}, fmt.Errorf("%w: not a parley invite", ErrBadInvite)
	}
	b, err := inviteEncoding.DecodeString(strings.ToUpper(code[len(invitePrefix):]))
	if err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	var inv wirepb.Invite
	if err := proto.Unmarshal(b, &inv); err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	if inv.Version == 1 || len(inv.Secret) > 0 {
		return DecodedInvite{}, fmt.Errorf("%w: %w", ErrBadInvite, ErrOldInvite)
	}
	if inv.Version != InviteVersion {
		return DecodedInvite{}, fmt.Errorf("%w: version %d", ErrBadInvite, inv.Version)
	}
	if err := checkName(inv.GroupName); err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	tok, err := membership.ParseInviteToken(inv.Token)
	if err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	if len(inv.GroupId) != store.GroupIDLen {
		return DecodedInvite{}, fmt.Errorf("%w: group id of %d bytes", ErrBadInvite, len(inv.GroupId))
	}
	d := DecodedInvite{GroupName: inv.GroupName, GroupID: hex.EncodeToString(inv.GroupId), HistoryFromJoin: inv.HistoryFromJoin, lamport: min(inv.Lamport, envelope.MaxLamport/2), token: tok}
	if len(inv.Inviter) > 0 {
		id, err := peer.IDFromBytes(inv.Inviter)
		if err != nil {
			return DecodedInvite{}, fmt.Errorf("%w: inviter: %v", ErrBadInvite, err)
		}
		d.Inviter.ID = id
		for i, ab := range inv.InviterAddrs {
			if i == maxInviteAddr {
				break
			}
			if a, err := ma.NewMultiaddrBytes(ab); err == nil {
				d.Inviter.Addrs = append(d.Inviter.Addrs, a)
			}
		}
	}
	return d, nil
}

// Join joins the group an invite names, dials the inviter and pulls history.
// Joining a group already held is a no-op that returns it.
func (n *Node) Join(ctx context.Context, code string) (GroupInfo, error) {
	inv, err := DecodeInvite(code)
	if err != nil {
		return GroupInfo{}, err
	}
	return n.joinDecoded(ctx, inv)
}

func (n *Node) joinDecoded(ctx context.Context, inv DecodedInvite) (GroupInfo, error) {
	if g := n.groupByLog(inv.token.Group); g != nil {
		return n.groupInfo(g.rec)
	}
	if rec, err := n.resolve(inv.GroupID); err == nil && len(inv.GroupID) == 2*store.GroupIDLen {
		return n.groupInfo(rec) // held already (a legacy copy, or not open)
	}
	if n.Host() == nil {
		return GroupInfo{}, ErrNotStarted
	}
	if inv.Inviter.ID == "" || inv.Inviter.ID == n.self {
		return GroupInfo{}, fmt.Errorf("%w: the invite names no inviter to ask", ErrBadInvite)
	}
	// The inviter's relays are bootstrap peers, also after a restart.
	n.reach.LearnInvite(reach.RelayPeers(inv.Inviter.Addrs))
	n.reach.Remember(inv.Inviter)
	cctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	if err := n.host.Connect(cctx, inv.Inviter, p2p.SourceDirect); err != nil {
		return GroupInfo{}, fmt.Errorf("join: reach the inviter: %w", err)
	}
	rep, l, err := n.requestJoin(cctx, inv.Inviter.ID, inv.token)
	if err != nil {
		return GroupInfo{}, err
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return GroupInfo{}, err
	}
	keys, err := envelope.DeriveKeys(rep.GroupSecret)
	if err != nil {
		return GroupInfo{}, fmt.Errorf("join: %w", err)
	}
	if hex.EncodeToString(keys.ID[:]) != inv.GroupID {
		return GroupInfo{}, fmt.Errorf("join: %w: the group secret is not the invite's group", ErrMalformed)
	}
	if err := n.keepLog(keys.ID, l, self); err != nil {
		return GroupInfo{}, fmt.Errorf("join: %w", err)
	}
	now := n.cfg.now().UnixMilli()
	rec := store.Group{ID: keys.ID, Name: l.State().Name(), Secret: rep.GroupSecret, CreatedMs: rep.CreatedMs, JoinedMs: now, HistoryFromJoin: rep.HistoryFromJoin}
	lamport := min(max(inv.lamport, rep.Lamport), envelope.MaxLamport/2)
	gi, err := n.addGroup(ctx, rec, func(g *group) { g.minLamport = lamport })
	if err != nil {
		return GroupInfo{}, err
	}
	if g, err := n.group(gi.ID); err == nil {
		n.sync.Request(inv.Inviter.ID, g.sync)
		// Should that first sync fail (the inviter busy serving others),
		// nothing else would ask again (admit.go).
		n.retryUnadmitted(g)
	}
	return gi, nil
}

// groupByLog finds an open group by its membership group id.
func (n *Node) groupByLog(id membership.GroupID) *group {
	for _, g := range n.allGroups() {
		g.mem.mu.Lock()
		ok := g.mem.log != nil && g.mem.log.Group() == id
		g.mem.mu.Unlock()
		if ok {
			return g
		}
	}
	return nil
}
