package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// group is one joined group: its keys, topic, send pipeline and members.
type group struct {
	rec   store.Group
	keys  envelope.GroupKeys
	topic *p2p.Topic
	sync  *syncproto.Group
	mem   *gmem

	sendQ   chan *sendReq // to the group's sender goroutine
	sendMu  sync.Mutex    // held while seqs are assigned and stored
	nextSeq uint64

	// queuedDuring says requests arrived while the sender stored and
	// published its last batch (sender goroutine only): send.go, sender.
	queuedDuring bool
	// held is what the sender stored and answered but holds back from
	// publishing for a moment, to seal with what follows (send.go, stage).
	held heldPublish

	// last is our own message at seq nextSeq-1 when known (under sendMu):
	// a new message names it as prev (envelope chain.go).
	last struct {
		seq uint64
		id  store.MessageID
	}
	// minLamport is the clock an invite said the group had reached, so a
	// joiner's first message sorts after the history it joins (under sendMu).
	minLamport uint64

	membersMu sync.Mutex
	members   map[peer.ID]string

	admitRetrying atomic.Bool   // a syncUnadmitted retry loop runs (admit.go)
	admitKick     chan struct{} // restarts that loop's fast retries (cap 1)
}

// openGroup joins a stored group's topic and starts receiving and sending.
func (n *Node) openGroup(rec store.Group) (*group, error) {
	keys, err := envelope.DeriveKeys(rec.Secret)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if g, ok := n.groups[rec.ID]; ok {
		return g, nil
	}
	if n.closing {
		return nil, ErrClosed
	}
	if n.host == nil || n.sync == nil {
		return nil, ErrNotStarted
	}
	mem, err := n.loadMembership(rec)
	if err != nil {
		return nil, fmt.Errorf("group %s membership: %w", rec.Name, err)
	}
	g := &group{rec: rec, keys: keys, mem: mem, members: map[peer.ID]string{}, sendQ: make(chan *sendReq, sendQueue),
		admitKick: make(chan struct{}, 1)}
	members, err := n.st.Members(rec.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		g.members[peer.ID(m.Author)] = m.DisplayName
	}
	var maxSeq uint64
	if err := n.st.AuthorAfter(rec.ID, []byte(n.self), 0, func(e store.AuthorIndexEntry) bool {
		maxSeq = max(maxSeq, e.Seq)
		return true
	}); err != nil {
		return nil, err
	}
	g.nextSeq = maxSeq + 1
	t, err := n.host.Join(keys.Topic, func(ctx context.Context, from peer.ID, data []byte) (p2p.Verdict, any) {
		return n.validate(g, from, data)
	})
	if err != nil {
		return nil, err
	}
	g.topic = t
	g.sync = &syncproto.Group{ID: rec.ID, Keys: &g.keys, Peers: t.ListPeers, Allow: n.dmAllow(rec.ID, mem.allows)}
	if rec.HistoryFromJoin {
		g.sync.SinceMs = rec.JoinedMs
		// Served from a requester's admission only: the log says when; a
		// legacy group falls back to the requester's Join message.
		legacyFloor := syncproto.JoinFloor(n.st, rec.ID, rec.JoinedMs)
		g.sync.MinSince = func(p peer.ID) int64 {
			if ms, ok := mem.joinedMs(p); ok {
				return ms
			}
			return legacyFloor(p)
		}
	}
	// A member appearing on the topic is the moment to swap history with it.
	if err := t.OnPeerJoin(func(p peer.ID) { n.sync.Request(p, g.sync) }); err != nil {
		t.Close()
		return nil, err
	}
	n.groups[rec.ID] = g
	n.wg.Add(2)
	go n.receive(g)
	go n.sender(g)
	// Members connected before we shared this group have proved no
	// membership of it: a sync is that proof, and admits them to pubsub
	// (admit.go).
	asked := false
	for _, p := range n.host.Libp2p().Network().Peers() {
		asked = n.probe(p, g) || asked
	}
	if asked {
		n.retryUnadmittedLocked(g)
	}
	return g, nil
}

func (n *Node) group(ref string) (*group, error) {
	// The common case, a full group id (what the API and front ends pass),
	// needs no store scan.
	var id store.GroupID
	if len(ref) == 2*len(id) {
		if _, err := hex.Decode(id[:], []byte(strings.ToLower(ref))); err == nil {
			if g := n.groupByID(id); g != nil {
				return g, nil
			}
		}
	}
	rec, err := n.resolve(ref)
	if err != nil {
		return nil, err
	}
	if g := n.groupByID(rec.ID); g != nil {
		return g, nil
	}
	if n.Host() == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotStarted, ref)
	}
	return nil, fmt.Errorf("%w: %q", ErrGroupNotFound, ref)
}

func (n *Node) groupByID(id store.GroupID) *group {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.groups[id]
}

func (n *Node) allGroups() []*group {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*group, 0, len(n.groups))
	for _, g := range n.groups {
		out = append(out, g)
	}
	return out
}

func (n *Node) syncGroups() []*syncproto.Group {
	gs := n.allGroups()
	out := make([]*syncproto.Group, len(gs))
	for i, g := range gs {
		out[i] = g.sync
	}
	return out
}

// CreateGroup creates a group with a fresh secret and announces us in it.
func (n *Node) CreateGroup(ctx context.Context, name string, historyFromJoin bool) (GroupInfo, error) {
	if err := checkName(name); err != nil {
		return GroupInfo{}, err
	}
	requested := name
	name, err := n.distinctGroupName(name) // groupname.go
	if err != nil {
		return GroupInfo{}, err
	}
	secret := envelope.NewSecret()
	keys, _ := envelope.DeriveKeys(secret)
	now := n.cfg.now()
	rec := store.Group{ID: keys.ID, Name: name, Secret: secret, CreatedMs: now.UnixMilli(), JoinedMs: now.UnixMilli(), HistoryFromJoin: historyFromJoin}
	self, err := n.id.memberIdentity()
	if err != nil {
		return GroupInfo{}, err
	}
	l, genesis, err := membership.Create(self, memberName(n.displayName()), name, now)
	if err != nil {
		return GroupInfo{}, err
	}
	if err := n.keepLog(rec.ID, l, self); err != nil {
		return GroupInfo{}, err
	}
	_ = genesis
	gi, err := n.addGroup(ctx, rec, nil)
	if err == nil && requested != name {
		gi.RequestedName = requested
	}
	return gi, err
}

func (n *Node) addGroup(ctx context.Context, rec store.Group, after func(*group)) (GroupInfo, error) {
	if n.Host() == nil || n.sync == nil {
		return GroupInfo{}, ErrNotStarted
	}
	if err := n.st.PutGroup(rec); err != nil {
		return GroupInfo{}, err
	}
	g, err := n.openGroup(rec)
	if err != nil {
		return GroupInfo{}, err
	}
	if after != nil {
		after(g)
	}
	n.reach.Kick()
	n.events.publish(Event{Type: EventGroup, Group: hex.EncodeToString(rec.ID[:])})
	n.react(g)
	if _, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Join{Join: &wirepb.Join{DisplayName: n.displayName()}}}); err != nil {
		return GroupInfo{}, err
	}
	return n.groupInfo(rec)
}

func checkName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("%w: a group name is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character in group name", ErrInvalidInput)
		}
	}
	return nil
}

// keepLog stores a whole membership log (a created or joined group's) and
// the current epoch's secret, before the group is opened from the store.
func (n *Node) keepLog(g store.GroupID, l *membership.Log, self membership.Identity) error {
	for _, o := range l.Ops() {
		if err := n.st.PutMembershipOp(g, o.ID(), o.Encode()); err != nil {
			return err
		}
	}
	st := l.State()
	cur := st.Current().ID
	secret, err := st.OpenOwnSecret(cur, self)
	if err != nil {
		return err
	}
	return n.st.PutEpochSecret(g, cur, secret)
}

// displayName is the name we announce.
func (n *Node) displayName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg.displayName
}
