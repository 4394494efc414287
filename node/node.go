package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

type config struct {
	displayName  string
	p2pOpts      []p2p.Option
	syncInterval time.Duration
	redialEvery  time.Duration
	rendezvous   time.Duration
	logger       *slog.Logger
	now          func() time.Time
}

// Option configures New.
type Option func(*config)

// WithDisplayName sets the name announced when creating or joining a group.
func WithDisplayName(name string) Option { return func(c *config) { c.displayName = name } }

// WithP2P passes options to the network layer (listen addresses, mDNS, a mocknet host).
func WithP2P(opts ...p2p.Option) Option {
	return func(c *config) { c.p2pOpts = append(c.p2pOpts, opts...) }
}

// WithSyncInterval sets how often groups are re-synced with connected members
// (default 30 s; 0 turns periodic sync off, leaving sync on connect and on gaps).
func WithSyncInterval(d time.Duration) Option { return func(c *config) { c.syncInterval = d } }

// WithRedialInterval sets how often remembered peers that are not connected are redialled.
func WithRedialInterval(d time.Duration) Option { return func(c *config) { c.redialEvery = d } }

// WithRendezvousInterval sets how often groups are looked up in the DHT to
// find members beyond the LAN (default 1 min, ten times less often while a
// member is connected; 0 turns DHT rendezvous off). See rendezvous.go.
func WithRendezvousInterval(d time.Duration) Option { return func(c *config) { c.rendezvous = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the wall clock (message timestamps only).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Node is a running Parley messenger: a store, a libp2p host and the groups
// joined on it.
type Node struct {
	*Local
	cfg  config
	log  *slog.Logger
	key  crypto.PrivKey
	pub  []byte // marshalled public key: the author field of our messages
	self peer.ID
	host *p2p.Host

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	closing bool // set by Close; guards goOwned
	groups  map[store.GroupID]*group

	events events
	drops  dropCounters
	sync   *syncer
	dialer *redialer
	rdv    *rendezvous
}

type group struct {
	rec   store.Group
	keys  groupKeys
	topic *p2p.Topic

	sendQ   chan *sendReq // to the group's sender goroutine
	sendMu  sync.Mutex    // held while seqs are assigned and stored
	nextSeq uint64
	pullMu  sync.Mutex // one history pull at a time
	// minLamport is the clock an invite said the group had reached, so a
	// joiner's first message sorts after the history it joins (under sendMu).
	minLamport uint64

	membersMu sync.Mutex
	members   map[peer.ID]string
}

// New starts a node on an open store with the profile's identity key. The
// node owns neither: Close them after the node.
func New(ctx context.Context, st *store.Store, key crypto.PrivKey, opts ...Option) (*Node, error) {
	c := config{syncInterval: 30 * time.Second, redialEvery: 30 * time.Second, rendezvous: time.Minute, logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, err
	}
	h, err := p2p.New(ctx, append([]p2p.Option{p2p.WithIdentity(key), p2p.WithLogger(c.logger)}, c.p2pOpts...)...)
	if err != nil {
		return nil, err
	}
	if h.ID() != self {
		h.Close()
		return nil, errors.New("node: host identity differs from profile identity")
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		Local: NewLocal(st, self), cfg: c, log: c.logger.With("component", "node"), key: key, pub: pub, self: self, host: h,
		ctx: nctx, cancel: cancel, groups: map[store.GroupID]*group{},
	}
	n.events.init()
	n.sync = newSyncer(n)
	n.dialer = newRedialer(n)
	n.rdv = newRendezvous(n, c.rendezvous)
	h.SetStreamHandler(SyncProtocol, n.sync.handle)
	h.OnConnectionChange(n.onConnectionChange)

	recs, err := st.Groups()
	if err != nil {
		n.Close()
		return nil, err
	}
	for _, rec := range recs {
		if _, err := n.openGroup(rec); err != nil {
			n.Close()
			return nil, err
		}
	}
	n.wg.Add(1)
	go n.sync.periodic()
	n.dialer.start()
	n.rdv.start()
	return n, nil
}

// goOwned runs fn on a goroutine that Close waits for, unless the node is
// closing: checking and registering under one lock keeps WaitGroup.Add from
// racing Close's Wait.
func (n *Node) goOwned(fn func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

// ID is this node's peer id, which is also its author identity.
func (n *Node) ID() peer.ID { return n.self }

// Host is the network layer (diagnostics and tests).
func (n *Node) Host() *p2p.Host { return n.host }

// Close stops the node and waits for its goroutines. The store stays open.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.mu.Lock()
		n.closing = true
		n.mu.Unlock()
		n.cancel()
		n.host.Close()
		n.wg.Wait()
		n.events.close()
	})
	return nil
}

// openGroup joins a stored group's topic and starts receiving.
func (n *Node) openGroup(rec store.Group) (*group, error) {
	keys, err := deriveKeys(rec.Secret)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if g, ok := n.groups[rec.ID]; ok {
		return g, nil
	}
	g := &group{rec: rec, keys: keys, members: map[peer.ID]string{}, sendQ: make(chan *sendReq, sendQueue)}
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
	t, err := n.host.Join(keys.topic, func(ctx context.Context, from peer.ID, data []byte) (p2p.Verdict, any) {
		return n.validate(g, from, data)
	})
	if err != nil {
		return nil, err
	}
	g.topic = t
	// A member appearing on the topic is the moment to swap history with it.
	if err := t.OnPeerJoin(func(p peer.ID) { n.sync.request(p, g) }); err != nil {
		t.Close()
		return nil, err
	}
	n.groups[rec.ID] = g
	n.wg.Add(2)
	go n.receive(g)
	go n.sender(g)
	return g, nil
}

func (n *Node) group(ref string) (*group, error) {
	// The common case, a full group id (what the API and front ends pass),
	// needs no store scan.
	var id store.GroupID
	if len(ref) == 2*len(id) {
		if _, err := hex.Decode(id[:], []byte(strings.ToLower(ref))); err == nil {
			n.mu.Lock()
			g, ok := n.groups[id]
			n.mu.Unlock()
			if ok {
				return g, nil
			}
		}
	}
	rec, err := n.resolve(ref)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	g, ok := n.groups[rec.ID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrGroupNotFound, ref)
	}
	return g, nil
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

// validate is the pubsub validator: every message on a group topic passes
// here before it is delivered or forwarded (our own publishes trivially).
// A bundle is accepted only whole: an honest member never bundles a message
// that fails a check. What it decodes to is the bundle's messages that are
// new to us.
func (n *Node) validate(g *group, from peer.ID, data []byte) (p2p.Verdict, any) {
	if from == n.self {
		// Our own publish: only sendBatch publishes on our topic handles,
		// and what it publishes it has just signed and stored. Checking it
		// again would spend a signature verification per message sent.
		return p2p.Accept, nil
	}
	raws, err := openEnvelope(&g.keys, data)
	if err != nil {
		n.drops.count(err)
		n.log.Debug("dropped pubsub message", "from", from, "reason", err)
		return p2p.Reject, nil
	}
	fresh := make([]*verified, 0, len(raws))
	for _, raw := range raws {
		v, err := verifySigned(g.rec.ID, raw)
		if err != nil {
			n.drops.count(err)
			n.log.Debug("dropped pubsub message", "from", from, "reason", err)
			return p2p.Reject, nil
		}
		has, err := n.st.Has(g.rec.ID, v.id)
		switch {
		case err != nil:
			n.log.Warn("validator store lookup", "err", err)
			return p2p.Ignore, nil
		case has:
			n.drops.count(ErrDuplicate)
		default:
			fresh = append(fresh, v)
		}
	}
	if len(fresh) == 0 {
		return p2p.Ignore, nil // an honest peer may re-forward: no penalty
	}
	return p2p.Accept, fresh
}

// receive stores validated messages from the topic, batching whatever has
// queued into one durable commit.
func (n *Node) receive(g *group) {
	defer n.wg.Done()
	in := g.topic.Messages()
	for {
		first, ok := <-in
		if !ok {
			return
		}
		batch := []p2p.Message{first}
	drain:
		for len(batch) < 512 {
			select {
			case m, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		var vs []*verified
		var froms []peer.ID
		for _, m := range batch {
			fresh, ok := m.Decoded.([]*verified)
			if !ok || m.Local {
				continue
			}
			vs = append(vs, fresh...)
			froms = append(froms, m.From)
		}
		if len(vs) == 0 {
			continue
		}
		if _, err := n.ingest(g, vs, froms[len(froms)-1]); err != nil {
			n.log.Error("store received messages", "err", err)
		}
	}
}

// ingest durably stores verified messages, then updates members, tells
// subscribers and asks for any parents we lack. It returns how many were new.
func (n *Node) ingest(g *group, vs []*verified, from peer.ID) (int, error) {
	vs, gap := n.checkCausality(g, vs)
	if len(vs) == 0 {
		return 0, nil
	}
	msgs := make([]store.Message, len(vs))
	for i, v := range vs {
		msgs[i] = v.storeMessage(g.rec.ID)
	}
	inserted, err := n.st.AppendReceived(n.ctx, msgs...)
	if err != nil {
		return 0, err
	}
	added := 0
	listening := n.events.active()
	for i, v := range vs {
		if !inserted[i] {
			continue
		}
		added++
		n.noteMember(g, v)
		if listening {
			n.events.publish(Event{Type: EventMessage, Group: hex.EncodeToString(g.rec.ID[:]), Message: n.toMessage(g, v), Backfill: from == ""})
		}
	}
	if gap && from != "" && from != n.self {
		n.sync.requestGap(from, g)
	}
	return added, nil
}

// checkCausality drops messages whose Lamport clock is not above that of
// every parent we hold (in the store or earlier in the same batch): such a
// message breaks the ordering rule and comes from a misbehaving member. It
// also reports whether any parent is missing (a gap to fill by sync).
func (n *Node) checkCausality(g *group, vs []*verified) (kept []*verified, gap bool) {
	inBatch := make(map[store.MessageID]uint64, len(vs))
	kept = vs[:0:0]
	for _, v := range vs {
		ok := true
		for _, p := range v.msg.Parents {
			var id store.MessageID
			copy(id[:], p)
			lam, held := inBatch[id]
			if !held {
				var err error
				lam, held, err = n.st.Lamport(g.rec.ID, id)
				if err != nil {
					n.log.Warn("parent lookup", "err", err)
				}
			}
			if !held {
				gap = true
				continue
			}
			if lam >= v.msg.Lamport {
				ok = false
				break
			}
		}
		if !ok {
			n.drops.count(fmt.Errorf("%w: lamport not above a parent's", ErrBadField))
			continue
		}
		inBatch[v.id] = v.msg.Lamport
		kept = append(kept, v)
	}
	return kept, gap
}

func (n *Node) toMessage(g *group, v *verified) *Message {
	m := toMessage(g.rec.ID, v)
	g.membersMu.Lock()
	m.AuthorName = g.members[v.author]
	g.membersMu.Unlock()
	return &m
}

// noteMember records the author as a member, with its announced name.
func (n *Node) noteMember(g *group, v *verified) {
	name, isJoin := "", false
	if j, ok := v.msg.Body.GetKind().(*wirepb.Body_Join); ok {
		name, isJoin = j.Join.DisplayName, true
	}
	g.membersMu.Lock()
	old, known := g.members[v.author]
	if known && (!isJoin || old == name) {
		g.membersMu.Unlock()
		return
	}
	if !isJoin {
		name = old
	}
	g.members[v.author] = name
	g.membersMu.Unlock()
	err := n.st.PutMember(g.rec.ID, store.Member{Author: []byte(v.author), DisplayName: name, FirstSeenMs: n.cfg.now().UnixMilli()})
	if err != nil {
		n.log.Warn("record member", "err", err)
	}
}

// CreateGroup creates a group with a fresh secret and announces us in it.
func (n *Node) CreateGroup(ctx context.Context, name string, historyFromJoin bool) (GroupInfo, error) {
	if err := checkName(name); err != nil {
		return GroupInfo{}, err
	}
	secret := newSecret()
	keys, _ := deriveKeys(secret)
	now := n.cfg.now().UnixMilli()
	rec := store.Group{ID: keys.id, Name: name, Secret: secret, CreatedMs: now, JoinedMs: now, HistoryFromJoin: historyFromJoin}
	return n.addGroup(ctx, rec, nil)
}

func (n *Node) addGroup(ctx context.Context, rec store.Group, after func(*group)) (GroupInfo, error) {
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
	n.rdv.kick()
	n.events.publish(Event{Type: EventGroup, Group: hex.EncodeToString(rec.ID[:])})
	if _, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Join{Join: &wirepb.Join{DisplayName: n.cfg.displayName}}}); err != nil {
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

// Send posts a text message to a group. It returns once the message is
// durably stored; delivery to others follows (gossip now, sync later).
func (n *Node) Send(ctx context.Context, ref, text string) (Message, error) {
	if strings.TrimSpace(text) == "" || len(text) > MaxTextLen || !utf8.ValidString(text) {
		return Message{}, fmt.Errorf("%w: a message is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxTextLen)
	}
	g, err := n.group(ref)
	if err != nil {
		return Message{}, err
	}
	m, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: text}}})
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

func (n *Node) publish(ctx context.Context, g *group, body *wirepb.Body) (*Message, error) {
	req := &sendReq{ctx: ctx, body: body, done: make(chan sendResult, 1)}
	select {
	case g.sendQ <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
	select {
	case r := <-req.done:
		return r.msg, r.err
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
}

const (
	sendQueue = 1024
	sendBatch = 256
)

type sendReq struct {
	ctx  context.Context
	body *wirepb.Body
	done chan sendResult
}

type sendResult struct {
	msg *Message
	err error
}

// sender writes the group's outgoing messages: whatever is queued becomes
// one chain (each message the parent of the next) stored with one durable
// commit, then published in order. A failed commit fails the whole batch and
// consumes no seq, so our per-author sequence never has a gap.
func (n *Node) sender(g *group) {
	defer n.wg.Done()
	for {
		var first *sendReq
		select {
		case first = <-g.sendQ:
		case <-n.ctx.Done():
			return
		}
		batch := []*sendReq{first}
	more:
		for len(batch) < sendBatch {
			select {
			case r := <-g.sendQ:
				batch = append(batch, r)
			default:
				break more
			}
		}
		n.sendBatch(g, batch)
	}
}

func (n *Node) sendBatch(g *group, batch []*sendReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- sendResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	fail := func(err error) {
		for _, r := range live {
			r.done <- sendResult{err: err}
		}
	}
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	// Heads first, then the clock: every head's Lamport is then <= the max read.
	heads, err := n.st.Heads(g.rec.ID, MaxParents)
	if err != nil {
		fail(err)
		return
	}
	stats, err := n.st.GroupStats(g.rec.ID)
	if err != nil {
		fail(err)
		return
	}
	lamport := max(stats.MaxLamport, g.minLamport)
	parents := make([][]byte, 0, len(heads))
	for _, h := range heads {
		parents = append(parents, append([]byte(nil), h[:]...))
	}
	// A chain: each message's parent is the one before it, which needs its
	// id, which is known only once the message is serialised.
	ms := make([]*wirepb.Message, len(live))
	bodies := make([][]byte, len(live))
	ids := make([]store.MessageID, len(live))
	now := n.cfg.now().UnixMilli()
	for i, r := range live {
		lamport++
		ms[i] = &wirepb.Message{
			Version: WireVersion, GroupId: g.rec.ID[:], Author: n.pub, Seq: g.nextSeq + uint64(i),
			Lamport: lamport, TimestampMs: now, Parents: parents, Body: r.body,
		}
		if bodies[i], err = marshalMessage(ms[i]); err != nil {
			fail(err)
			return
		}
		ids[i] = messageID(bodies[i])
		parents = [][]byte{ids[i][:]}
	}
	vs, err := signBodies(n.key, ms, bodies, ids)
	if err != nil {
		fail(err)
		return
	}
	msgs := make([]store.Message, len(vs))
	for i, v := range vs {
		msgs[i] = v.storeMessage(g.rec.ID)
	}
	if _, err := n.st.Append(n.ctx, msgs...); err != nil {
		fail(fmt.Errorf("store message: %w", err))
		return
	}
	g.nextSeq += uint64(len(live))
	raws := make([][]byte, len(vs))
	for i, v := range vs {
		raws[i] = v.raw
	}
	for _, b := range bundles(raws) {
		env, err := sealEnvelope(&g.keys, b...)
		if err == nil {
			err = g.topic.Publish(n.ctx, env)
		}
		if err != nil {
			// Stored already: sync delivers it when peers are reachable.
			n.log.Warn("publish failed; messages will be delivered by sync", "count", len(b), "err", err)
		}
	}
	for i, r := range live {
		v := vs[i]
		n.noteMember(g, v)
		out := n.toMessage(g, v)
		n.events.publish(Event{Type: EventMessage, Group: out.Group, Message: out})
		r.done <- sendResult{msg: out}
	}
}

// onConnectionChange syncs every group with a newly connected peer.
func (n *Node) onConnectionChange(p peer.ID, up bool) {
	n.events.publish(Event{Type: EventPeer, Peer: &PeerEvent{ID: p.String(), Connected: up}})
	if !up {
		return
	}
	for _, g := range n.allGroups() {
		n.sync.request(p, g)
	}
}
