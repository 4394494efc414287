package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/rpc"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// With --procs every node runs in a process of its own, as it does on a
// user's machine: its own collector, heap, scheduler and memory limit.
// The parent (procs.go) starts this binary with the hidden --node-child
// flag once per node and drives each over the child's stdin and stdout
// with net/rpc. This file is the child's side.

// Kinds of node process.
const (
	ChildParley = "parley" // a Parley node on its own store
	ChildRaw    = "raw"    // a raw GossipSub host (the baseline)
)

// ChildConfig is what a node process needs of the parent's Config.
type ChildConfig struct {
	Kind        string
	Index       int
	Dir         string // parent of the node's store directory
	InMemory    bool
	Text        string
	SendLinger  time.Duration
	MemoryLimit int64 // the Go soft memory limit, as a daemon's --memory-limit (0: none)
	LogLevel    string
	Sign        bool // a raw host signs its messages (Config.BaselineSign)
}

// NodeInfo names a node process's host: its peer id and listen addresses.
type NodeInfo struct {
	ID    string
	Addrs []string
}

// GroupPeer names a peer in a group.
type GroupPeer struct{ Group, Peer string }

// Role is what a node knows of a peer's membership.
type Role struct{ Member, Admin bool }

// Holdings is how many messages of a group a node stores and how many
// members it knows.
type Holdings struct {
	Messages uint64
	Members  int
}

// Delivery is one message a node process stored (or, raw, received), at
// At (Unix nanoseconds: one clock for every process of the machine).
type Delivery struct {
	Key string
	At  int64
}

// ChildStats is what a node process has used so far and holds now.
type ChildStats struct {
	CPU                          time.Duration
	RSS, Anon, Heap              uint64
	AllocBytes, AllocObjects     uint64
	StoreWritten, StoreCompacted int64
	Goroutines                   int
}

// ServeChild runs one node for a parent parley-bench until in closes.
func ServeChild(in io.Reader, out io.Writer) error {
	svc := &childService{}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Node", svc); err != nil {
		return err
	}
	srv.ServeConn(stdioConn{in, out})
	svc.stop()
	return nil
}

type stdioConn struct {
	io.Reader
	io.Writer
}

func (stdioConn) Close() error { return nil }

// childService is the node a child process runs. Its exported methods are
// the calls the parent may make (net/rpc).
type childService struct {
	ctx    context.Context
	cancel context.CancelFunc
	cfg    Config
	pc     *parleyCluster // Kind parley: one node
	rc     *rawCluster    // Kind raw: one host

	mu  sync.Mutex
	out []Delivery

	profiles sync.Map // kind -> func() that stops the profile StartProfile began
}

var errNotStarted = errors.New("bench: node process not started")

// Start starts the node and answers its host's peer id and addresses.
func (s *childService) Start(cc ChildConfig, info *NodeInfo) error {
	if s.pc != nil || s.rc != nil {
		return errors.New("bench: node process already started")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cc.LogLevel)); err != nil {
		level = slog.LevelError
	}
	s.cfg = Config{Dir: cc.Dir, InMemory: cc.InMemory, Text: cc.Text, SendLinger: cc.SendLinger, Net: NetTCP, BaselineSign: cc.Sign,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	if cc.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cc.MemoryLimit) // as the daemon does
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	tap := func(key string, t time.Time) {
		s.mu.Lock()
		s.out = append(s.out, Delivery{Key: key, At: t.UnixNano()})
		s.mu.Unlock()
	}
	var id peer.ID
	var addrs []ma.Multiaddr
	switch cc.Kind {
	case ChildParley:
		// Text seeds (wordsText) and keys are per process: start each
		// node's far from the others'.
		c := &parleyCluster{cfg: &s.cfg, fill: map[int]string{}, texts: uint64(cc.Index) << 40, tap: tap}
		key, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return err
		}
		opts, err := hostOpts(&s.cfg, nil, key, cc.Index)
		if err != nil {
			return err
		}
		st, err := newStore(&s.cfg, fmt.Sprintf("parley-%03d", cc.Index))
		if err != nil {
			return err
		}
		pn, err := c.startNode(s.ctx, cc.Index, st, key, opts)
		if err != nil {
			st.Close()
			return err
		}
		c.nodes = []*parleyNode{pn}
		s.pc = c
		id, addrs = pn.ID(), pn.Host().ListenAddrs()
	case ChildRaw:
		c := newRawCluster(&s.cfg)
		c.tap = tap
		c.seq.Store(uint64(cc.Index) << 40) // keys unique across processes
		if err := c.addHost(&s.cfg, cc.Index); err != nil {
			c.close()
			return err
		}
		s.rc = c
		id, addrs = c.hosts[0].ID(), c.hosts[0].Addrs()
	default:
		return fmt.Errorf("bench: unknown node kind %q", cc.Kind)
	}
	*info = nodeInfoOf(peer.AddrInfo{ID: id, Addrs: addrs})
	return nil
}

// member is the started Parley node, for the group calls.
func (s *childService) member() (member, error) {
	if s.pc == nil {
		return nil, errNotStarted
	}
	return s.pc.nodes[0], nil
}

// Connect dials another node process.
func (s *childService) Connect(to NodeInfo, _ *int) error {
	if s.pc == nil && s.rc == nil {
		return errNotStarted
	}
	ai, err := to.addrInfo()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if s.pc != nil {
		return s.pc.nodes[0].connect(ctx, ai)
	}
	return s.rc.hosts[0].Connect(ctx, ai)
}

func (s *childService) CreateGroup(_ int, group *string) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	*group, err = m.createGroup(s.ctx)
	return err
}

func (s *childService) Invite(group string, code *string) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	*code, err = m.invite(group)
	return err
}

func (s *childService) Join(code string, _ *int) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	return m.join(ctx, code)
}

func (s *childService) Promote(a GroupPeer, _ *int) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	return m.promote(s.ctx, a.Group, a.Peer)
}

func (s *childService) Role(a GroupPeer, r *Role) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	r.Member, r.Admin = m.role(a.Group, a.Peer)
	return nil
}

func (s *childService) Holds(group string, h *Holdings) error {
	m, err := s.member()
	if err != nil {
		return err
	}
	h.Messages, h.Members, err = m.holds(group)
	return err
}

// SetGroup names the group Send writes to, the creator's included.
func (s *childService) SetGroup(group string, _ *int) error {
	if s.pc == nil {
		return errNotStarted
	}
	s.pc.group = group
	return nil
}

// Send sends one message of size bytes and answers its delivery key.
func (s *childService) Send(size int, key *string) error {
	var err error
	switch {
	case s.pc != nil:
		*key, err = s.pc.send(s.ctx, 0, size)
	case s.rc != nil:
		*key, err = s.rc.send(s.ctx, 0, size)
	default:
		err = errNotStarted
	}
	return err
}

// Deliveries answers the deliveries since the last call.
func (s *childService) Deliveries(_ int, out *[]Delivery) error {
	s.mu.Lock()
	*out, s.out = s.out, nil
	s.mu.Unlock()
	return nil
}

// TopicReady reports whether a raw host sees every connected peer on the topic.
func (s *childService) TopicReady(_ int, ok *bool) error {
	if s.rc == nil {
		return errNotStarted
	}
	*ok = s.rc.topicReady(0)
	return nil
}

func (s *childService) Stats(_ int, st *ChildStats) error {
	r := selfMeter{}.read()
	*st = ChildStats{CPU: r.cpu, RSS: r.rss, Anon: r.anon, Heap: r.heap, AllocBytes: r.alloc.bytes, AllocObjects: r.alloc.objects,
		StoreWritten: r.store.written, StoreCompacted: r.store.compacted, Goroutines: r.goroutines}
	return nil
}

// Settle collects garbage and returns freed memory to the OS.
func (s *childService) Settle(_ int, _ *int) error {
	settle(0)
	return nil
}

func (s *childService) Drops(_ int, d *map[string]uint64) error {
	if s.pc != nil {
		*d = s.pc.nodes[0].Drops()
	}
	return nil
}

// ProfileArgs names a profile of this node process: Kind "cpu", "trace"
// or "heap" (live objects, written at once), to Path.
type ProfileArgs struct{ Kind, Path string }

// StartProfile begins a CPU profile or an execution trace of this node
// process, or writes its heap profile.
func (s *childService) StartProfile(a ProfileArgs, _ *int) error {
	var stop func()
	var err error
	switch a.Kind {
	case "heap":
		return selfProfiler{}.writeHeap(a.Path)
	case "trace":
		stop, err = selfProfiler{}.startTrace(a.Path)
	case "cpu":
		stop, err = selfProfiler{}.startCPU(a.Path)
	default:
		err = fmt.Errorf("bench: unknown profile kind %q", a.Kind)
	}
	if err == nil {
		s.profiles.Store(a.Kind, stop)
	}
	return err
}

// StopProfile ends the CPU profile or trace StartProfile began.
func (s *childService) StopProfile(kind string, _ *int) error {
	if stop, ok := s.profiles.LoadAndDelete(kind); ok {
		stop.(func())()
	}
	return nil
}

// Stop stops the node; the process ends when the parent closes its stdin.
func (s *childService) Stop(_ int, _ *int) error {
	s.stop()
	return nil
}

func (s *childService) stop() {
	if s.pc != nil {
		for _, pn := range s.pc.nodes {
			pn.stop()
		}
		s.pc = nil
	}
	if s.rc != nil {
		s.rc.close()
		s.rc = nil
	}
	if s.cancel != nil {
		s.cancel()
	}
}

func nodeInfoOf(ai peer.AddrInfo) NodeInfo {
	n := NodeInfo{ID: ai.ID.String()}
	for _, a := range ai.Addrs {
		n.Addrs = append(n.Addrs, a.String())
	}
	return n
}

func (n NodeInfo) addrInfo() (peer.AddrInfo, error) {
	id, err := peer.Decode(n.ID)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	ai := peer.AddrInfo{ID: id}
	for _, s := range n.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return peer.AddrInfo{}, err
		}
		ai.Addrs = append(ai.Addrs, a)
	}
	return ai, nil
}
