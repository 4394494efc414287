package node

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// maxPendingOps bounds the ops held while their parents are missing.
const maxPendingOps = 4096

// gmem is a group's membership: its log (nil for a legacy group, created
// before membership), ops waiting for parents, and the epoch secrets held.
type gmem struct {
	mu      sync.Mutex
	log     *membership.Log
	pending map[membership.OpID]*membership.Op
	keys    map[membership.OpID]*envelope.EpochKey
	current membership.OpID // current epoch when last looked
	since   time.Time       // when current became current (here)
	retired map[membership.OpID]time.Time
	// savedName is the group name last saved to the group record.
	savedName string
}

// legacy reports a group created before membership (no log).
func (m *gmem) legacy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log == nil
}

// loadMembership rebuilds a group's log from its stored ops, and its epoch
// keys from the stored secrets. A group without ops is legacy.
func (n *Node) loadMembership(rec store.Group) (*gmem, error) {
	m := &gmem{pending: map[membership.OpID]*membership.Op{}, keys: map[membership.OpID]*envelope.EpochKey{},
		retired: map[membership.OpID]time.Time{}, since: n.cfg.now()}
	raws, err := n.st.MembershipOps(rec.ID)
	if err != nil || len(raws) == 0 {
		return m, err
	}
	var ops []*membership.Op
	for _, raw := range raws {
		o, err := membership.DecodeOp(raw)
		if err != nil {
			return nil, fmt.Errorf("stored membership op: %w", err)
		}
		if o.Kind == membership.KindCreate {
			if m.log != nil {
				return nil, errors.New("stored membership log has two genesis ops")
			}
			if m.log, err = membership.NewLog(o); err != nil {
				return nil, err
			}
			continue
		}
		ops = append(ops, o)
	}
	if m.log == nil {
		return nil, errors.New("stored membership log has no genesis op")
	}
	slices.SortFunc(ops, func(a, b *membership.Op) int { return cmp.Compare(a.Lamport, b.Lamport) })
	for _, o := range ops {
		m.pending[o.ID()] = o
	}
	m.drainPending()
	secrets, err := n.st.EpochSecrets(rec.ID)
	if err != nil {
		return nil, err
	}
	for id, s := range secrets {
		if k, err := envelope.DeriveEpochKey(rec.ID, id, s); err == nil {
			m.keys[id] = k
		}
	}
	m.current = m.log.State().Current().ID
	for id := range m.keys {
		if id != m.current {
			m.retired[id] = n.cfg.now()
		}
	}
	return m, nil
}

// drainPending inserts waiting ops whose parents have arrived (under mu).
// They go in the log's own order (Lamport clock, then id), parents first:
// an op inserted before ops that precede it makes the log rebuild the state
// of its causal past, verifying every invite proof in it again, so a joiner
// replaying a 100-member log in map order did O(n^2) signature checks.
func (m *gmem) drainPending() {
	for progress := true; progress; {
		progress = false
		ids := slices.SortedFunc(maps.Keys(m.pending), func(a, b membership.OpID) int {
			return membership.Compare(m.pending[a], a, m.pending[b], b)
		})
		for _, id := range ids {
			_, err := m.log.Insert(m.pending[id])
			if errors.Is(err, membership.ErrUnknownParent) {
				continue
			}
			delete(m.pending, id)
			progress = progress || err == nil
		}
	}
}

// errOpAuthor is an op carried in a message by someone other than its author.
var errOpAuthor = fmt.Errorf("%w: membership op not by the message's author", ErrBadField)

// applyOp inserts an op received in a message signed by author (its
// marshalled key). An op with unknown parents waits; an op the log refuses
// is an error (the carrying message is rejected).
func (n *Node) applyOp(g *group, author []byte, raw []byte) error {
	o, err := membership.DecodeOp(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadField, err)
	}
	k, err := memberKeyOf(author)
	if err != nil || k != o.Author {
		return errOpAuthor
	}
	if err := n.dmCheckOp(g, o); err != nil {
		return err
	}
	m := g.mem
	m.mu.Lock()
	if m.log == nil {
		m.mu.Unlock()
		return fmt.Errorf("%w: membership op in a legacy group", ErrBadField)
	}
	id := o.ID()
	if m.log.Has(id) || m.pending[id] != nil {
		m.mu.Unlock()
		return nil
	}
	_, err = m.log.Insert(o)
	switch {
	case errors.Is(err, membership.ErrUnknownParent):
		// The messages carrying its parents were lost to gossip (or are
		// still on their way); until they come the op does nothing, and
		// with periodic sync off nothing else would fetch them.
		defer n.pullFromMembers(g)
		if len(m.pending) >= maxPendingOps {
			m.mu.Unlock()
			return nil // dropped; sync brings the message (and the op) again
		}
		m.pending[id] = o
	case err != nil:
		m.mu.Unlock()
		return fmt.Errorf("%w: membership op: %v", ErrBadField, err)
	default:
		m.drainPending()
	}
	m.mu.Unlock()
	if err := n.st.PutMembershipOp(g.rec.ID, id, raw); err != nil {
		n.log.Warn("store membership op", "err", err)
	}
	n.react(g)
	n.syncUnadmitted(g) // a new member may be connected but unproven (admit.go)
	return nil
}

// react follows the log after a change: open a new current epoch's secret,
// retire the old one, and do the member's duties (rotate when a non-member
// holds the current secret, share the secret with members who lack it).
func (n *Node) react(g *group) {
	m := g.mem
	self, err := n.id.memberIdentity()
	if err != nil {
		return
	}
	m.mu.Lock()
	if m.log == nil {
		m.mu.Unlock()
		return
	}
	st := m.log.State()
	cur := st.Current().ID
	if cur != m.current {
		m.retired[m.current] = n.cfg.now()
		m.current, m.since = cur, n.cfg.now()
	}
	if _, ok := m.keys[cur]; !ok {
		if secret, err := st.OpenOwnSecret(cur, self); err == nil {
			n.keepSecretLocked(g, cur, secret)
		}
	}
	rotator, _ := st.Rotator()
	_, holds := m.keys[cur]
	duty := rotator == self.Key() && holds
	var ops []*membership.Op
	var epochs []membership.OpID
	if duty && st.RotationNeeded() {
		if o, secret, err := m.log.Rotate(self, n.cfg.now()); err == nil {
			epochs = append(epochs, cur)
			ops = append(ops, o)
			n.keepSecretLocked(g, o.ID(), secret)
			st, cur = m.log.State(), o.ID()
			m.retired[m.current] = n.cfg.now()
			m.current, m.since = cur, n.cfg.now()
		}
	}
	if duty && len(st.MissingKeys()) > 0 {
		if o, err := m.log.ShareKey(self, n.cfg.now()); err == nil {
			epochs = append(epochs, cur)
			ops = append(ops, o)
		}
	}
	members := st.Members()
	m.mu.Unlock()
	n.noteMembers(g, members)
	n.syncGroupName(g)
	for i, o := range ops {
		n.publishOp(g, o, epochs[i])
	}
}

// keepSecretLocked stores an epoch secret and derives its key (under mu).
func (n *Node) keepSecretLocked(g *group, epoch membership.OpID, secret []byte) {
	k, err := envelope.DeriveEpochKey(g.rec.ID, epoch, secret)
	if err != nil {
		return
	}
	g.mem.keys[epoch] = k
	if err := n.st.PutEpochSecret(g.rec.ID, epoch, secret); err != nil {
		n.log.Warn("store epoch secret", "err", err)
	}
}

// sendOp stores and broadcasts an op made here, in a message sealed under
// epoch (the epoch current before the op: a removal's message must reach the
// members it leaves behind, a leave's must be sendable by the leaver). It
// returns once the message is stored and published.
func (n *Node) sendOp(ctx context.Context, g *group, o *membership.Op, epoch membership.OpID) error {
	raw := o.Encode()
	if err := n.st.PutMembershipOp(g.rec.ID, o.ID(), raw); err != nil {
		return fmt.Errorf("store membership op: %w", err)
	}
	body := &wirepb.Body{Kind: &wirepb.Body_Membership{Membership: &wirepb.Membership{Op: raw}}}
	_, err := n.publishIn(ctx, g, body, &epoch)
	return err
}

// publishOp is sendOp in the background (from the receive path, which
// must not wait for the sender); sync delivers what gossip misses.
func (n *Node) publishOp(g *group, o *membership.Op, epoch membership.OpID) {
	n.goOwned(func() {
		if err := n.sendOp(n.ctx, g, o, epoch); err != nil && !errors.Is(err, ErrClosed) {
			n.log.Warn("publish membership op", "kind", o.Kind, "err", err)
		}
	})
}

// noteMembers records the log's members as store members (names for
// history and for the offline CLI).
func (n *Node) noteMembers(g *group, ms []membership.Member) {
	for _, mm := range ms {
		pid, err := peerOfKey(mm.Key)
		if err != nil {
			continue
		}
		g.membersMu.Lock()
		old, known := g.members[pid]
		if known && old == mm.Name {
			g.membersMu.Unlock()
			continue
		}
		g.members[pid] = mm.Name
		g.membersMu.Unlock()
		if err := n.st.PutMember(g.rec.ID, store.Member{Author: []byte(pid), DisplayName: mm.Name, FirstSeenMs: n.cfg.now().UnixMilli()}); err != nil {
			n.log.Warn("record member", "err", err)
		}
	}
}

// maintain rotates the current epoch when it is older than the rotation
// period (the rotator does), and forgets epoch secrets retired for longer
// than the grace period.
func (n *Node) maintain(g *group) {
	now := n.cfg.now()
	self, err := n.id.memberIdentity()
	if err != nil {
		return
	}
	m := g.mem
	m.mu.Lock()
	if m.log == nil {
		m.mu.Unlock()
		return
	}
	for id, at := range m.retired {
		if id != m.current && now.Sub(at) >= n.cfg.epochGrace {
			delete(m.keys, id)
			delete(m.retired, id)
			if err := n.st.DeleteEpochSecret(g.rec.ID, id); err != nil {
				n.log.Warn("delete epoch secret", "err", err)
			}
		}
	}
	st := m.log.State()
	rotator, _ := st.Rotator()
	_, holds := m.keys[m.current]
	var op *membership.Op
	old := m.current
	if n.cfg.epochRotation > 0 && rotator == self.Key() && holds && now.Sub(m.since) >= n.cfg.epochRotation {
		if o, secret, err := m.log.Rotate(self, now); err == nil {
			op = o
			n.keepSecretLocked(g, o.ID(), secret)
			m.retired[old] = now
			m.current, m.since = o.ID(), now
		}
	}
	m.mu.Unlock()
	if op != nil {
		n.publishOp(g, op, old)
	}
}

// sendEpoch is the epoch key a message of ours in g goes out under: the
// current epoch's (opened here if react has not yet), or override's.
func (n *Node) sendEpoch(g *group, override *membership.OpID) (*envelope.EpochKey, error) {
	m := g.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return nil, ErrLegacyGroup
	}
	st := m.log.State()
	epoch := st.Current().ID
	if override != nil {
		epoch = *override
	} else if _, ok := st.Member(n.memberKey); !ok {
		return nil, ErrNotGroupMember
	}
	if k := m.keys[epoch]; k != nil {
		return k, nil
	}
	self, err := n.id.memberIdentity()
	if err != nil {
		return nil, err
	}
	secret, err := st.OpenOwnSecret(epoch, self)
	if err != nil {
		return nil, fmt.Errorf("%w: no key for the epoch: %w", ErrNotGroupMember, err)
	}
	n.keepSecretLocked(g, epoch, secret)
	return m.keys[epoch], nil
}

// memberVerdict is what the membership says about a message.
type memberVerdict int

const (
	memberOK memberVerdict = iota
	memberUnknown
	memberRemoved
)

// judge applies State.IsMemberAt to a message's author and epoch: a
// current member who belonged to the epoch is OK; an author the log has
// seen but who is no member now, or not of that epoch, is removed; an
// author the log has never seen is unknown (its join op may be on its way).
func (m *gmem) judge(author []byte, epoch []byte) memberVerdict {
	k, err := memberKeyOf(author)
	if err != nil || len(epoch) != envelope.EpochIDLen {
		return memberRemoved
	}
	var eid membership.OpID
	copy(eid[:], epoch)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.log.State()
	if _, ok := st.Epoch(eid); !ok {
		return memberUnknown
	}
	if st.IsMemberAt(k, eid) {
		return memberOK
	}
	for _, e := range st.Epochs() {
		if slices.Contains(e.Members, k) {
			return memberRemoved
		}
	}
	return memberUnknown
}

// key is the envelope key of an epoch id, nil if we hold none.
func (m *gmem) key(epoch []byte) *envelope.EpochKey {
	if len(epoch) != envelope.EpochIDLen {
		return nil
	}
	var id membership.OpID
	copy(id[:], epoch)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[id]
}

// allows is sync's Allow: only a current member may pull the group.
func (m *gmem) allows(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return true
	}
	k, err := memberKeyOfPeer(p)
	if err != nil {
		return false
	}
	_, ok := m.log.State().Member(k)
	return ok
}

var memberKeys sync.Map // marshalled author key -> membership.Key

// memberKeyOf is the membership key of a message author (marshalled libp2p key).
func memberKeyOf(author []byte) (membership.Key, error) {
	if k, ok := memberKeys.Load(string(author)); ok {
		return k.(membership.Key), nil
	}
	pub, err := crypto.UnmarshalPublicKey(author)
	if err != nil || pub.Type() != crypto.Ed25519 {
		return membership.Key{}, ErrBadAuthor
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return membership.Key{}, ErrBadAuthor
	}
	k := membership.KeyOf(ed25519.PublicKey(raw))
	memberKeys.Store(string(author), k)
	return k, nil
}

func memberKeyOfPeer(p peer.ID) (membership.Key, error) {
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return membership.Key{}, err
	}
	b, err := crypto.MarshalPublicKey(pub)
	if err != nil {
		return membership.Key{}, err
	}
	return memberKeyOf(b)
}

func peerOfKey(k membership.Key) (peer.ID, error) {
	pub, err := crypto.UnmarshalEd25519PublicKey(k[:])
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pub)
}

// joinedMs is when p was admitted to the group, by the clock of the member
// who signed its add (not the joiner's own claim): the floor of the
// history served to p in a history-from-join group. ok is false for a
// legacy group or a peer the log does not list.
func (m *gmem) joinedMs(p peer.ID) (ms int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return 0, false
	}
	k, err := memberKeyOfPeer(p)
	if err != nil {
		return 0, false
	}
	mem, ok := m.log.State().Member(k)
	if !ok {
		return 0, false
	}
	o, ok := m.log.Get(mem.Added)
	if !ok {
		return 0, false
	}
	return o.Time, true
}
