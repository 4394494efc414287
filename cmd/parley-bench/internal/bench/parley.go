package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// loopback is the only address benchmark hosts listen on.
const loopback = "/ip4/127.0.0.1/tcp/0"

// parleyNode is one Parley node of a cluster with its store and key.
type parleyNode struct {
	*node.Node
	st   *store.Store
	key  crypto.PrivKey
	done chan struct{}
}

// parleyCluster is N Parley nodes in one group.
type parleyCluster struct {
	cfg   *Config
	nodes []*parleyNode
	group string
	poll  string // Config.Actions: the poll votes go to
	topo  topology
	mn    mocknet.Mocknet
	rec   atomic.Pointer[recorder]
	// tap, when set, also gets every delivery: a node process (child.go)
	// passes them on to the parent's recorder.
	tap func(key string, t time.Time)

	fillMu sync.Mutex
	fill   map[int]string
	texts  uint64 // TextWords: messages made so far (each text's seed)

	restoreLimit func() // undoes applyNodeMemoryLimit
}

// newStore opens a store for node name: on disk under cfg.Dir unless InMemory.
func newStore(cfg *Config, name string) (*store.Store, error) {
	if cfg.InMemory {
		return store.Open("", store.InMemory(), store.WithLogger(cfg.Logger))
	}
	dir := filepath.Join(cfg.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return store.Open(dir, store.WithLogger(cfg.Logger))
}

// hostOpts returns the network options for a node: loopback TCP with mDNS
// off, or a mocknet host.
func hostOpts(cfg *Config, mn mocknet.Mocknet, key crypto.PrivKey, i int) ([]p2p.Option, error) {
	if mn == nil {
		return []p2p.Option{p2p.WithListenAddrs([]string{loopback}, nil), p2p.WithMDNS(false)}, nil
	}
	h, err := mn.AddPeer(key, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 20000+i)))
	if err != nil {
		return nil, err
	}
	return []p2p.Option{p2p.WithHost(h), p2p.WithMDNS(false)}, nil
}

// startNode starts one node on st (which outlives it: a catch-up restarts
// a node on its store) with key; events go to the cluster's recorder as node i.
func (c *parleyCluster) startNode(ctx context.Context, i int, st *store.Store, key crypto.PrivKey, opts []p2p.Option, extra ...node.Option) (*parleyNode, error) {
	if l := c.cfg.SendLinger; l != 0 {
		extra = append(extra, node.WithSendLinger(max(l, 0)))
	}
	n, err := node.New("", append([]node.Option{
		node.WithStore(st),
		node.WithKey(key),
		node.WithDisplayName(fmt.Sprintf("bench%d", i)),
		node.WithLogger(c.cfg.Logger),
		node.WithP2P(opts...),
	}, extra...)...)
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		return nil, err
	}
	pn := &parleyNode{Node: n, st: st, key: key, done: make(chan struct{})}
	ch, _ := n.Subscribe() // ends when the node closes
	go func() {
		defer close(pn.done)
		for ev := range ch {
			if ev.Type != node.EventMessage || ev.Message == nil || ev.Message.Kind != "text" {
				continue
			}
			t := time.Now()
			if c.tap != nil {
				c.tap(ev.Message.ID, t)
			}
			if r := c.rec.Load(); r != nil {
				r.deliver(i, ev.Message.ID, t)
			}
		}
	}()
	return pn, nil
}

func (pn *parleyNode) stop() {
	pn.Node.Close() // closes the event channel
	<-pn.done
	if pn.st != nil {
		pn.st.Close()
	}
}

func (pn *parleyNode) addrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: pn.ID(), Addrs: pn.Host().ListenAddrs()}
}

var benchEmoji = []string{"👍", "🎉", "❤", "😀"}

// startParleyCluster starts n nodes, connects them, forms one group and
// waits until it is ready to measure.
func startParleyCluster(ctx context.Context, cfg *Config, n int, rng *rand.Rand) (*parleyCluster, error) {
	c := &parleyCluster{cfg: cfg, topo: newTopology(n, cfg.Degree, rng), fill: map[int]string{}}
	c.restoreLimit = applyNodeMemoryLimit(cfg.NodeMemoryLimit, n)
	if cfg.Net == NetMocknet {
		c.mn = mocknet.New()
	}
	keys := make([]crypto.PrivKey, n)
	hopts := make([][]p2p.Option, n)
	for i := range n {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		if hopts[i], err = hostOpts(cfg, c.mn, k, i); err != nil {
			c.close()
			return nil, err
		}
	}
	if c.mn != nil {
		if err := c.mn.LinkAll(); err != nil {
			c.close()
			return nil, err
		}
	}
	for i := range n {
		st, err := newStore(cfg, fmt.Sprintf("parley-%03d", i))
		if err != nil {
			c.close()
			return nil, err
		}
		pn, err := c.startNode(ctx, i, st, keys[i], hopts[i])
		if err != nil {
			st.Close()
			c.close()
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
		c.nodes = append(c.nodes, pn)
	}
	if err := c.form(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// form forms the cluster's group (formGroup), then makes the poll the
// actions vote in.
func (c *parleyCluster) form(ctx context.Context) error {
	members := make([]member, len(c.nodes))
	for i, pn := range c.nodes {
		members[i] = pn
	}
	group, err := formGroup(ctx, members, c.topo)
	if err != nil {
		return err
	}
	c.group = group
	if c.cfg.Actions > 0 {
		pm, err := c.nodes[0].CreatePoll(ctx, c.group, "bench?", []string{"a", "b", "c"}, false, false)
		if err != nil {
			return err
		}
		c.poll = pm.ID
		if err := waitUntil(ctx, 30*time.Second, "every node holds the poll", func() bool {
			for _, pn := range c.nodes {
				if _, err := pn.Poll(c.group, c.poll); err != nil {
					return false
				}
			}
			return true
		}); err != nil {
			return err
		}
	}
	return nil
}

// member is what forming a group asks of a node, in this process
// (parleyNode) or in its own (procNode).
type member interface {
	peerID() string
	addrInfo() peer.AddrInfo
	connect(ctx context.Context, to peer.AddrInfo) error
	createGroup(ctx context.Context) (string, error)
	invite(group string) (string, error)
	join(ctx context.Context, code string) error
	promote(ctx context.Context, group, peer string) error
	// role says whether this node's membership state lists peer in group,
	// and as owner or admin.
	role(group, peer string) (isMember, isAdmin bool)
	// holds is how many messages of group this node stores and how many
	// members it knows.
	holds(group string) (messages uint64, members int, err error)
}

// formGroup has members[0] create a group, every other node join through
// its topology parent, dials the other edges and waits for every join to
// reach every node. It returns the group's id.
func formGroup(ctx context.Context, nodes []member, topo topology) (string, error) {
	group, err := nodes[0].createGroup(ctx)
	if err != nil {
		return "", err
	}
	// Only the owner and admins may invite: the owner makes every node an
	// admin once it has joined, so it can invite its own topology children.
	owner := nodes[0]
	// Each wait grows with the group: a promotion or join reaches every
	// member through membership replays whose cost grows with the log, and
	// on a shared host a 100-node group took over 30 s for one step.
	stepWait := 30*time.Second + time.Duration(len(nodes))*time.Second
	for i := 1; i < len(nodes); i++ {
		parent := nodes[topo.parent[i]]
		if err := waitUntil(ctx, stepWait, fmt.Sprintf("node %d to know it is admin", topo.parent[i]), func() bool {
			_, admin := parent.role(group, parent.peerID())
			return admin
		}); err != nil {
			return "", err
		}
		code, err := parent.invite(group)
		if err != nil {
			return "", err
		}
		if err := nodes[i].join(ctx, code); err != nil {
			return "", fmt.Errorf("node %d join: %w", i, err)
		}
		joiner := nodes[i].peerID()
		if err := waitUntil(ctx, stepWait, fmt.Sprintf("the owner to see node %d join", i), func() bool {
			known, _ := owner.role(group, joiner)
			return known
		}); err != nil {
			return "", err
		}
		if err := owner.promote(ctx, group, joiner); err != nil {
			return "", fmt.Errorf("promote node %d: %w", i, err)
		}
	}
	if err := dialEdges(ctx, topo.edges, func(ctx context.Context, a, b int) error {
		return nodes[a].connect(ctx, nodes[b].addrInfo())
	}); err != nil {
		return "", err
	}
	// Holding every Join message is not enough: a node that has not yet
	// applied every admission from the membership log ignores the texts of
	// the members it does not know (unknown-author) until a sync brings
	// them again, and a run that starts then measures formation, not
	// delivery (seen: p50 of 170-220 ms at 20 nodes with thousands of
	// unknown-author drops).
	// Group replays the membership log, so a node is asked only until it
	// has formed (it stays formed): at 50 nodes, asking every node every
	// 10 ms spends CPU the forming cluster needs (two 50-node runs timed out
	// forming before this; the next formed in 14 s).
	want := uint64(len(nodes))
	formed := make([]bool, len(nodes))
	var lagging string // the last node still waited for, for the error
	if err := waitUntil(ctx, 30*time.Second+time.Duration(len(nodes))*time.Second, "every node holds every join and knows every member", func() bool {
		for i, m := range nodes {
			if formed[i] {
				continue
			}
			msgs, known, err := m.holds(group)
			if err != nil || msgs < want || known < len(nodes) {
				lagging = fmt.Sprintf("node %d: %d messages, %d members known (err %v)", i, msgs, known, err)
				return false
			}
			formed[i] = true
		}
		return true
	}); err != nil {
		n := 0
		for _, f := range formed {
			if !f {
				n++
			}
		}
		return "", fmt.Errorf("%w; %d nodes not formed, e.g. %s", err, n, lagging)
	}
	return group, nil
}

// dialEdges dials every edge, a few at a time.
func dialEdges(ctx context.Context, edges [][2]int, dial func(ctx context.Context, a, b int) error) error {
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, e := range edges {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := dial(dctx, e[0], e[1]); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("dial %d -> %d: %w", e[0], e[1], err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// errTimeout is returned when a bounded wait ends unmet.
var errTimeout = errors.New("bench: timed out")

// waitUntil polls cond until it holds, ctx ends or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w waiting until %s (%s)", errTimeout, what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (c *parleyCluster) size() int               { return len(c.nodes) }
func (c *parleyCluster) setRecorder(r *recorder) { c.rec.Store(r) }

// filler returns a text of exactly size bytes; the same text is fine since
// each message's id covers its author, seq and clock.
func (c *parleyCluster) filler(size int) string {
	c.fillMu.Lock()
	defer c.fillMu.Unlock()
	if c.cfg.Text == TextWords {
		c.texts++
		return wordsText(c.texts, size)
	}
	s, ok := c.fill[size]
	if !ok {
		s = strings.Repeat("parley bench ", size/13+1)[:size]
		c.fill[size] = s
	}
	return s
}

func (c *parleyCluster) send(ctx context.Context, from, size int) (string, error) {
	pn := c.nodes[from]
	m, err := pn.Send(ctx, c.group, c.filler(size))
	if err != nil {
		return "", err
	}
	for k := range c.cfg.Actions {
		if k%2 == 0 {
			err = pn.React(ctx, c.group, m.ID, benchEmoji[(k/2)%len(benchEmoji)], false)
		} else {
			err = pn.Vote(ctx, c.group, c.poll, []int{int(m.Seq+uint64(k)) % 3})
		}
		if err != nil {
			return "", fmt.Errorf("action %d: %w", k, err)
		}
	}
	return m.ID, nil
}

func (c *parleyCluster) close() {
	total := map[string]uint64{}
	for _, pn := range c.nodes {
		for reason, n := range pn.Drops() {
			total[reason] += n
		}
	}
	reportDrops(c.cfg, total)
	var wg sync.WaitGroup
	for _, pn := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); pn.stop() }()
	}
	wg.Wait()
	if c.mn != nil {
		c.mn.Close()
	}
	if c.restoreLimit != nil {
		c.restoreLimit()
	}
}

// parleyNode is a member (formGroup) in this process.

func (pn *parleyNode) peerID() string { return pn.ID().String() }

func (pn *parleyNode) connect(ctx context.Context, to peer.AddrInfo) error {
	return pn.Host().Connect(ctx, to, p2p.SourceDirect)
}

func (pn *parleyNode) createGroup(ctx context.Context) (string, error) {
	gi, err := pn.CreateGroup(ctx, "bench", false)
	if err != nil {
		return "", err
	}
	return gi.ID, nil
}

func (pn *parleyNode) invite(group string) (string, error) { return pn.Invite(group) }

func (pn *parleyNode) join(ctx context.Context, code string) error {
	_, err := pn.Join(ctx, code)
	return err
}

func (pn *parleyNode) promote(ctx context.Context, group, peer string) error {
	return pn.Promote(ctx, group, peer)
}

func (pn *parleyNode) role(group, peer string) (isMember, isAdmin bool) {
	ms, err := pn.MemberList(group)
	if err != nil {
		return false, false
	}
	for _, m := range ms {
		if m.PeerID == peer {
			return true, m.Role == "owner" || m.Role == "admin"
		}
	}
	return false, false
}

func (pn *parleyNode) holds(group string) (uint64, int, error) {
	g, err := pn.Group(group)
	return g.Messages, g.Members, err
}

// reportDrops prints what the nodes refused or ignored over the whole run,
// by reason: a latency tail often means messages waited for sync after a
// refusal.
func reportDrops(cfg *Config, total map[string]uint64) {
	for reason, n := range total {
		if n > 0 {
			cfg.Logger.Info("refused or ignored over the run", "reason", reason, "count", n)
			fmt.Fprintf(os.Stderr, "refused or ignored over the run: %s=%d\n", reason, n)
		}
	}
}
