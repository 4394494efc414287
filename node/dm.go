package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/store"
)

// Direct messages: a group with exactly two members (the offerer, owner of
// its log, and the contact it added), its own secret and epoch keys, brought
// to the contact by an offer on /parley/dm/1.0.0 (dmoffer.go). Nothing else
// may ever join: every node refuses invites, adds, removals and role or name
// changes in it (dmCheckOp).

// dmGroupName is the name in a conversation's genesis op; each side shows
// it under its own name for the contact.
const dmGroupName = "direct message"

// Drop reasons of direct messages (counted in Status.Drops).
var (
	// ErrBadOffer: a conversation offer that breaks the rules (someone
	// else's log, other members, a third member, bad fields).
	ErrBadOffer = errors.New("bad-dm-offer")
	// ErrBlockedContact: an offer or message from a blocked contact.
	ErrBlockedContact = errors.New("blocked-contact")
)

// dmState is the node's view of its conversations: which open groups are
// conversations with whom, who is blocked, and the offer outbox's kick.
type dmState struct {
	mu      sync.Mutex // also serialises contact record updates
	pairs   map[store.GroupID]peer.ID
	blocked map[peer.ID]bool
	kick    chan struct{}
}

func (d *dmState) peerOf(g store.GroupID) (peer.ID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pairs[g]
	return p, ok
}

func (d *dmState) isBlocked(p peer.ID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.blocked[p]
}

func (d *dmState) setBlocked(p peer.ID, b bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocked == nil {
		d.blocked = map[peer.ID]bool{}
	}
	d.blocked[p] = b
}

func (d *dmState) setPair(g store.GroupID, p peer.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pairs == nil {
		d.pairs = map[store.GroupID]peer.ID{}
	}
	d.pairs[g] = p
}

// dmStart loads the conversations and blocks, serves offers and starts the
// outbox (from Start, before the groups open).
func (n *Node) dmStart() error {
	pairs, err := n.st.Pairs()
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if id, err := peer.IDFromBytes(p.Peer); err == nil {
			n.dm.setPair(p.Group, id)
		}
	}
	cs, err := n.st.Contacts()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if id, err := peer.IDFromBytes(c.Peer); err == nil {
			n.dm.setBlocked(id, c.Blocked)
			if len(c.Addrs) > 0 {
				n.reach.Remember(addrInfoOf(id, c.Addrs))
			}
		}
	}
	n.dm.mu.Lock()
	n.dm.kick = make(chan struct{}, 1)
	n.dm.mu.Unlock()
	n.host.SetStreamHandler(DMProtocol, n.serveDM)
	n.goOwned(n.outboxLoop)
	return nil
}

// isDM reports whether g is a conversation.
func (n *Node) isDM(g *group) bool {
	_, ok := n.dm.peerOf(g.rec.ID)
	return ok
}

// dmBlocked reports a conversation whose contact is blocked: nothing from
// it is stored, nothing goes to it.
func (n *Node) dmBlocked(g *group) bool {
	p, ok := n.dm.peerOf(g.rec.ID)
	return ok && n.dm.isBlocked(p)
}

// dmSendable refuses sending in a conversation with a blocked contact.
func (n *Node) dmSendable(g *group) error {
	if n.dmBlocked(g) {
		return ErrBlocked
	}
	return nil
}

// dmRefuseChange refuses every membership change made here in a
// conversation (invites, removals, roles, names, leaving).
func (n *Node) dmRefuseChange(g *group) error {
	if n.isDM(g) {
		return ErrDMChange
	}
	return nil
}

// dmAllow wraps sync's Allow: a blocked contact pulls nothing.
func (n *Node) dmAllow(id store.GroupID, base func(peer.ID) bool) func(peer.ID) bool {
	return func(p peer.ID) bool {
		if q, ok := n.dm.peerOf(id); ok && q == p && n.dm.isBlocked(p) {
			return false
		}
		return base(p)
	}
}

// dmDropBlocked counts and reports what arrives in a blocked conversation.
func (n *Node) dmDropBlocked(g *group) bool {
	if n.dmBlocked(g) {
		n.drops.count(ErrBlockedContact)
		return true
	}
	return false
}

// dmOpKinds are the op kinds a conversation's log may hold after its
// genesis and the owner's one add of the contact.
var dmOpKinds = map[membership.Kind]bool{membership.KindRotate: true, membership.KindKeyShare: true, membership.KindProfile: true}

// dmCheckOp refuses a received op a conversation may not hold.
func (n *Node) dmCheckOp(g *group, o *membership.Op) error {
	if !n.isDM(g) || dmOpKinds[o.Kind] {
		return nil
	}
	g.mem.mu.Lock()
	has := g.mem.log != nil && g.mem.log.Has(o.ID())
	g.mem.mu.Unlock()
	if has {
		return nil // the genesis or the add, already held
	}
	return fmt.Errorf("%w: %s op in a direct message", ErrBadField, o.Kind)
}

// checkDMLog checks a conversation's log: genesis by owner with the
// conversation name, one add of other by owner, then only dmOpKinds, and
// exactly the two of them as members.
func checkDMLog(l *membership.Log, owner, other membership.Key) error {
	ops := l.Ops()
	adds := 0
	for _, o := range ops {
		switch {
		case o.Kind == membership.KindCreate:
			if o.Author != owner || o.GroupName != dmGroupName {
				return fmt.Errorf("%w: genesis not the offerer's conversation", ErrBadOffer)
			}
		case o.Kind == membership.KindAdd:
			adds++
			if o.Author != owner || o.Subject != other || adds > 1 {
				return fmt.Errorf("%w: add of someone else", ErrBadOffer)
			}
		case !dmOpKinds[o.Kind]:
			return fmt.Errorf("%w: %s op in a direct message", ErrBadOffer, o.Kind)
		}
	}
	st := l.State()
	ms := st.Members()
	if len(ms) != 2 || len(st.Dropped()) > 0 {
		return fmt.Errorf("%w: %d members", ErrBadOffer, len(ms))
	}
	for _, m := range ms {
		if m.Key != owner && m.Key != other {
			return fmt.Errorf("%w: a third member", ErrBadOffer)
		}
	}
	return nil
}

// dmInfo marks a conversation in a group summary and names it after the
// contact (Local: works without a running node).
func (l *Local) dmInfo(gi *GroupInfo, id store.GroupID) {
	p, err := l.st.GetPair(id)
	if err != nil {
		return
	}
	gi.Kind = "dm"
	if c, err := l.st.GetContact(p.Peer); err == nil {
		gi.Name = c.Name
		pid, _ := peer.IDFromBytes(p.Peer)
		gi.Contact = pid.String()
	}
}

// OpenDM returns the conversation with a contact, creating it (and
// offering it to the contact) if there is none yet.
func (n *Node) OpenDM(ctx context.Context, ref string) (GroupInfo, error) {
	if n.Host() == nil {
		return GroupInfo{}, ErrNotStarted
	}
	n.dm.mu.Lock()
	c, err := n.findContact(ref)
	n.dm.mu.Unlock()
	if err != nil {
		return GroupInfo{}, err
	}
	if c.Blocked {
		return GroupInfo{}, fmt.Errorf("%w: %s", ErrBlocked, c.Name)
	}
	if c.Pair != (store.GroupID{}) {
		if g := n.groupByID(c.Pair); g != nil {
			return n.groupInfo(g.rec)
		}
	}
	id, err := peer.IDFromBytes(c.Peer)
	if err != nil {
		return GroupInfo{}, err
	}
	other, err := memberKeyOfPeer(id)
	if err != nil {
		return GroupInfo{}, err
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return GroupInfo{}, err
	}
	now := n.cfg.now()
	l, _, err := membership.Create(self, memberName(n.displayName()), dmGroupName, now)
	if err != nil {
		return GroupInfo{}, err
	}
	if _, err := l.AddMember(self, other, c.Key, memberName(c.Name), now); err != nil {
		return GroupInfo{}, fmt.Errorf("direct message to %s: %w", c.Name, err)
	}
	secret := envelope.NewSecret()
	keys, err := envelope.DeriveKeys(secret)
	if err != nil {
		return GroupInfo{}, err
	}
	rec := store.Group{ID: keys.ID, Name: c.Name, Secret: secret, CreatedMs: now.UnixMilli(), JoinedMs: now.UnixMilli()}
	if err := n.keepLog(rec.ID, l, self); err != nil {
		return GroupInfo{}, err
	}
	if err := n.keepPair(store.Pair{Group: rec.ID, Peer: c.Peer, Pending: true, CreatedMs: now.UnixMilli()}, id); err != nil {
		return GroupInfo{}, err
	}
	gi, err := n.addGroup(ctx, rec, nil)
	if err != nil {
		return GroupInfo{}, err
	}
	if err := n.adoptPair(store.Pair{Group: rec.ID}, id); err != nil {
		return GroupInfo{}, err
	}
	n.dmKick()
	return gi, nil
}

// keepPair records a conversation with p (before its group opens, so the
// conversation's rules hold from its first message).
func (n *Node) keepPair(pr store.Pair, p peer.ID) error {
	n.dm.setPair(pr.Group, p)
	return n.st.PutPair(pr)
}

// adoptPair makes an opened conversation p's contact's conversation if it
// has none or a later one: when both sides open one at once, both keep the
// smaller group id.
func (n *Node) adoptPair(pr store.Pair, p peer.ID) error {
	n.dm.mu.Lock()
	defer n.dm.mu.Unlock()
	c, err := n.st.GetContact([]byte(p))
	if err != nil {
		return err
	}
	if c.Pair == (store.GroupID{}) || bytes.Compare(pr.Group[:], c.Pair[:]) < 0 {
		c.Pair = pr.Group
		return n.st.PutContact(c)
	}
	return nil
}

// SendDM sends a text to a contact in its conversation, opening one first
// if there is none.
func (n *Node) SendDM(ctx context.Context, ref, text string) (Message, error) {
	gi, err := n.OpenDM(ctx, ref)
	if err != nil {
		return Message{}, err
	}
	return n.Send(ctx, gi.ID, text)
}

// dmKick wakes the offer outbox.
func (n *Node) dmKick() {
	n.dm.mu.Lock()
	k := n.dm.kick
	n.dm.mu.Unlock()
	kick(k)
}

// dmRetry is how often the outbox looks for offers due.
var dmRetry = 10 * time.Second
