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
	"github.com/parley-chat/parley/node/internal/reach"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

const (
	invitePrefix  = "parley1"
	maxInviteLen  = 4096
	maxInviteAddr = 16
)

var inviteEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Invite returns a code that lets its holder join the group. It carries the
// group secret: share it only with people who should read the group.
func (n *Node) Invite(ref string) (string, error) {
	g, err := n.group(ref)
	if err != nil {
		return "", err
	}
	inv := &wirepb.Invite{
		Version: WireVersion, GroupName: g.rec.Name, Secret: g.rec.Secret, Inviter: []byte(n.self),
		CreatedMs: n.cfg.now().UnixMilli(), HistoryFromJoin: g.rec.HistoryFromJoin,
	}
	if stats, err := n.st.GroupStats(g.rec.ID); err == nil {
		inv.Lamport = stats.MaxLamport
	}
	// Relay (/p2p-circuit) addresses first, so the cap never drops them: a
	// joiner behind another NAT reaches us, and the DHT, through the relay.
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
	GroupName       string
	GroupID         string
	Inviter         peer.AddrInfo
	HistoryFromJoin bool
	lamport         uint64
	secret          []byte
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
	if inv.Version != WireVersion {
		return DecodedInvite{}, fmt.Errorf("%w: version %d", ErrBadInvite, inv.Version)
	}
	if err := checkName(inv.GroupName); err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	keys, err := envelope.DeriveKeys(inv.Secret)
	if err != nil {
		return DecodedInvite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	d := DecodedInvite{GroupName: inv.GroupName, GroupID: hex.EncodeToString(keys.ID[:]), HistoryFromJoin: inv.HistoryFromJoin, lamport: min(inv.Lamport, envelope.MaxLamport/2), secret: inv.Secret}
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
	keys, _ := envelope.DeriveKeys(inv.secret)
	if rec, err := n.st.GetGroup(keys.ID); err == nil {
		return n.groupInfo(rec)
	}
	now := n.cfg.now().UnixMilli()
	rec := store.Group{ID: keys.ID, Name: inv.GroupName, Secret: inv.secret, CreatedMs: now, JoinedMs: now, HistoryFromJoin: inv.HistoryFromJoin}
	gi, err := n.addGroup(ctx, rec, func(g *group) { g.minLamport = inv.lamport })
	if err != nil {
		return GroupInfo{}, err
	}
	if inv.Inviter.ID != "" && inv.Inviter.ID != n.self {
		// The inviter's relays are bootstrap peers, also after a restart.
		n.reach.LearnInvite(reach.RelayPeers(inv.Inviter.Addrs))
		n.reach.Remember(inv.Inviter)
		n.goOwned(func() {
			cctx, cancel := context.WithTimeout(n.ctx, 20*time.Second)
			defer cancel()
			if err := n.host.Connect(cctx, inv.Inviter, p2p.SourceDirect); err != nil {
				n.log.Info("could not reach inviter yet; will retry", "peer", inv.Inviter.ID, "err", err)
				return
			}
			if g, err := n.group(gi.ID); err == nil {
				n.sync.Request(inv.Inviter.ID, g.sync)
			}
		})
	}
	return gi, nil
}
