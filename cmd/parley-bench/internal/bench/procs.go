package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/rpc"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// cluster is a started system: Parley or the baseline, with every node in
// this process or each in its own (--procs).
type cluster interface {
	system
	close()
}

// startParley starts cfg.Nodes Parley nodes in one group and returns them
// with the topology they were dialled in.
func startParley(ctx context.Context, cfg *Config, rng *rand.Rand) (cluster, topology, error) {
	if cfg.Procs {
		topo := newTopology(cfg.Nodes, cfg.Degree, rng)
		c, err := startProcCluster(ctx, cfg, ChildParley, topo)
		if err != nil {
			return nil, topology{}, err
		}
		return c, topo, nil
	}
	pc, err := startParleyCluster(ctx, cfg, cfg.Nodes, rng)
	if err != nil {
		return nil, topology{}, err
	}
	return pc, pc.topo, nil
}

// startBaseline starts cfg.Nodes raw GossipSub hosts dialled as topo.
func startBaseline(ctx context.Context, cfg *Config, topo topology) (cluster, error) {
	if cfg.Procs {
		c, err := startProcCluster(ctx, cfg, ChildRaw, topo)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	rc, err := startRawCluster(ctx, cfg, cfg.Nodes, topo)
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// procCluster is a system whose every node is a process of its own: this
// binary run with --node-child (child.go). It measures those processes
// (meter), not this one.
type procCluster struct {
	cfg   *Config
	kind  string
	nodes []*procNode
	rec   atomic.Pointer[recorder]

	stopPoll chan struct{}
	polling  sync.WaitGroup
}

// procNode is one node process and the client that drives it.
type procNode struct {
	cmd  *exec.Cmd
	cl   *rpc.Client
	info NodeInfo
	ai   peer.AddrInfo
}

// pollEvery is how often the parent collects each process's deliveries
// while a recorder is set (between runs nothing is asked, so an idle
// node's CPU is its own). Each carries the time the node stored it, so
// this delays only when the parent learns of it, not what is measured.
const pollEvery = 50 * time.Millisecond

func startProcCluster(ctx context.Context, cfg *Config, kind string, topo topology) (*procCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &procCluster{cfg: cfg, kind: kind, stopPoll: make(chan struct{})}
	var limit int64
	if kind == ChildParley {
		limit = cfg.NodeMemoryLimit
	}
	for i := range cfg.Nodes {
		pn, err := startProcNode(exe, ChildConfig{Kind: kind, Index: i, Dir: cfg.Dir, InMemory: cfg.InMemory, Text: cfg.Text,
			SendLinger: cfg.SendLinger, MemoryLimit: limit, LogLevel: cfg.LogLevel, Sign: cfg.BaselineSign})
		if err != nil {
			c.close()
			return nil, fmt.Errorf("node process %d: %w", i, err)
		}
		c.nodes = append(c.nodes, pn)
	}
	if kind == ChildParley {
		members := make([]member, len(c.nodes))
		for i, pn := range c.nodes {
			members[i] = pn
		}
		group, err := formGroup(ctx, members, topo)
		if err == nil {
			err = c.each(func(pn *procNode) error { return pn.cl.Call("Node.SetGroup", group, nil) })
		}
		if err != nil {
			c.close()
			return nil, err
		}
	} else {
		err := dialEdges(ctx, topo.edges, func(ctx context.Context, a, b int) error {
			return c.nodes[a].connect(ctx, c.nodes[b].ai)
		})
		if err == nil {
			err = waitUntil(ctx, 30*time.Second, "every baseline host sees its peers on the topic", func() bool {
				for _, pn := range c.nodes {
					var ok bool
					if pn.cl.Call("Node.TopicReady", 0, &ok) != nil || !ok {
						return false
					}
				}
				return true
			})
		}
		if err != nil {
			c.close()
			return nil, err
		}
	}
	for i, pn := range c.nodes {
		c.polling.Add(1)
		go c.poll(i, pn)
	}
	return c, nil
}

func startProcNode(exe string, cc ChildConfig) (*procNode, error) {
	cmd := exec.Command(exe, "--node-child")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pn := &procNode{cmd: cmd, cl: rpc.NewClient(pipeConn{out, in})}
	if err := pn.cl.Call("Node.Start", cc, &pn.info); err != nil {
		pn.end()
		return nil, err
	}
	if pn.ai, err = pn.info.addrInfo(); err != nil {
		pn.end()
		return nil, err
	}
	return pn, nil
}

// pipeConn is the parent's side of a child's stdout and stdin.
type pipeConn struct {
	io.Reader
	io.WriteCloser
}

// poll passes node i's deliveries to the recorder until the cluster closes.
func (c *procCluster) poll(i int, pn *procNode) {
	defer c.polling.Done()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stopPoll:
			return
		case <-t.C:
		}
		r := c.rec.Load()
		if r == nil {
			continue
		}
		var ds []Delivery
		if err := pn.cl.Call("Node.Deliveries", 0, &ds); err != nil {
			return
		}
		for _, d := range ds {
			r.deliver(i, d.Key, time.Unix(0, d.At))
		}
	}
}

// each calls f on every node process at once and returns the first error.
func (c *procCluster) each(f func(*procNode) error) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, pn := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(pn) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *procCluster) size() int               { return len(c.nodes) }
func (c *procCluster) setRecorder(r *recorder) { c.rec.Store(r) }

func (c *procCluster) send(ctx context.Context, from, size int) (string, error) {
	var key string
	err := c.nodes[from].cl.Call("Node.Send", size, &key)
	return key, err
}

// settle (meter) waits pause, then has every node process return freed
// memory to the OS.
func (c *procCluster) settle(pause time.Duration) {
	time.Sleep(pause)
	c.each(func(pn *procNode) error { return pn.cl.Call("Node.Settle", 0, nil) })
}

// read sums the node processes' figures (meter); maxRSS and maxAnon are the
// largest process's.
func (c *procCluster) read() reading {
	var r reading
	for _, pn := range c.nodes {
		var st ChildStats
		if pn.cl.Call("Node.Stats", 0, &st) != nil {
			continue
		}
		r.cpu += st.CPU
		r.rss += st.RSS
		r.anon += st.Anon
		r.heap += st.Heap
		r.maxRSS, r.maxAnon = max(r.maxRSS, st.RSS), max(r.maxAnon, st.Anon)
		r.alloc.bytes += st.AllocBytes
		r.alloc.objects += st.AllocObjects
		r.store.written += st.StoreWritten
		r.store.compacted += st.StoreCompacted
		r.goroutines += st.Goroutines
	}
	return r
}

func (c *procCluster) close() {
	close(c.stopPoll)
	c.polling.Wait()
	if c.kind == ChildParley {
		total := map[string]uint64{}
		for _, pn := range c.nodes {
			var d map[string]uint64
			if pn.cl.Call("Node.Drops", 0, &d) == nil {
				for reason, n := range d {
					total[reason] += n
				}
			}
		}
		reportDrops(c.cfg, total)
	}
	c.each(func(pn *procNode) error { pn.end(); return nil })
}

// end stops the node, closes the process's stdin (it exits) and waits for
// it, killing it if it lingers.
func (pn *procNode) end() {
	pn.cl.Call("Node.Stop", 0, nil)
	pn.cl.Close() // closes stdin: the child's ServeConn returns
	done := make(chan struct{})
	go func() { pn.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		pn.cmd.Process.Kill()
		<-done
	}
}

// procNode is a member (formGroup) in a process of its own.

func (pn *procNode) peerID() string          { return pn.info.ID }
func (pn *procNode) addrInfo() peer.AddrInfo { return pn.ai }

func (pn *procNode) connect(ctx context.Context, to peer.AddrInfo) error {
	return pn.call(ctx, "Connect", nodeInfoOf(to), nil)
}

func (pn *procNode) createGroup(ctx context.Context) (string, error) {
	var group string
	err := pn.call(ctx, "CreateGroup", 0, &group)
	return group, err
}

func (pn *procNode) invite(group string) (string, error) {
	var code string
	err := pn.cl.Call("Node.Invite", group, &code)
	return code, err
}

func (pn *procNode) join(ctx context.Context, code string) error {
	return pn.call(ctx, "Join", code, nil)
}

func (pn *procNode) promote(ctx context.Context, group, peer string) error {
	return pn.call(ctx, "Promote", GroupPeer{group, peer}, nil)
}

func (pn *procNode) role(group, peer string) (bool, bool) {
	var r Role
	if pn.cl.Call("Node.Role", GroupPeer{group, peer}, &r) != nil {
		return false, false
	}
	return r.Member, r.Admin
}

func (pn *procNode) holds(group string) (uint64, int, error) {
	var h Holdings
	err := pn.cl.Call("Node.Holds", group, &h)
	return h.Messages, h.Members, err
}

// call makes a call that ctx may abandon (the process goes on with it).
func (pn *procNode) call(ctx context.Context, method string, args, reply any) error {
	call := pn.cl.Go("Node."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return call.Error
	case <-ctx.Done():
		return ctx.Err()
	}
}
