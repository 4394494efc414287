package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// seedAuthors is how many authors write the missed history in parallel:
// one per 5,000 messages (4 to 32). Send's cost grows with the author's own
// history (store.Heads scans deleted head keys), so many short histories are
// much faster to write than one long one.
func seedAuthors(missed int) int { return min(max(missed/5000, 4), 32) }

// serverIdleCores is the CPU (in cores) below which the catch-up's server
// counts as idle: an idle node uses about 0.01 (Badger's compactors and
// timers), settleCPU allows 0.1 on top.
const serverIdleCores = 0.02

// CatchUpResult is one catch-up run.
type CatchUpResult struct {
	Missed  int     `json:"missed"`
	Seconds float64 `json:"seconds"` // receiver restart -> holds every missed message
	// SearchableSeconds: receiver restart -> every missed message is also
	// in the search index (synced messages are indexed after they are
	// stored, node/indexlater.go).
	SearchableSeconds float64 `json:"searchable_seconds"`
	MsgsPerS          float64 `json:"msgs_per_s"`     // Missed / Seconds
	SeedSeconds       float64 `json:"seed_seconds"`   // time taken to produce the history on the server (not measured)
	SettleSeconds     float64 `json:"settle_seconds"` // then, until the server's store had finished compacting it (not measured)

	// After the catch-up: the receiver's store holds Stored messages (the
	// missed ones and the joins). PeakRSSMB is the process's peak RSS while
	// it caught up (server included); RSSMB and HeapMB are the process with
	// only the receiver left running. DiskBytes is what its store directory
	// occupies on disk (allocated blocks, after the store is closed and has
	// flushed); 0 with in-memory stores.
	Stored          uint64  `json:"stored"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	RSSMB           float64 `json:"rss_mb"`
	HeapMB          float64 `json:"heap_mb"`
	DiskBytes       int64   `json:"disk_bytes,omitempty"`
	DiskBytesPerMsg float64 `json:"disk_bytes_per_msg,omitempty"`
}

// catchUp measures how long a member that was offline takes to get missed
// messages from one peer over loopback TCP.
//
// Setup (not timed): a throwaway creator invites everyone; the receiver
// (configured store) joins and goes offline; the server and seedAuthors
// authors (in-memory stores) join; the creator leaves, so nobody is
// connected; each author sends its share of missed messages offline, in
// parallel (seedAuthors); their stores are copied into the server's
// (node.CopyHistory); the process is left to go idle (the server's store
// compacts what it took in). Timed: the receiver restarts on its store,
// dials the server, and the clock stops when it holds everything the
// server holds.
func catchUp(ctx context.Context, cfg *Config, missed int) (CatchUpResult, error) {
	res := CatchUpResult{Missed: missed}
	// Always loopback TCP: a mocknet host does not survive its node's restart.
	tcp := *cfg
	tcp.Net = NetTCP
	c := &parleyCluster{cfg: &tcp, fill: map[int]string{}}
	var rst *store.Store // the receiver's, closed after its node
	defer func() {
		c.close()
		if rst != nil {
			rst.Close()
		}
	}()
	// No redial: who talks to whom is set by hand below.
	start := func(i int, st *store.Store, key crypto.PrivKey) (*parleyNode, error) {
		opts, err := hostOpts(&tcp, nil, key, i)
		if err != nil {
			return nil, err
		}
		return c.startNode(ctx, i, st, key, opts, node.WithRedialInterval(time.Hour))
	}
	// Throwaway nodes (the creator, the authors) keep their stores in
	// memory; the server's is configured like the receiver's (on disk by
	// default), as a real member's is: an in-memory store holding the whole
	// history would sit in the process's heap beside the receiver's and
	// keep the collector busy under the process's soft memory limit.
	withStore := func(i int, open func() (*store.Store, error)) (*parleyNode, error) {
		st, err := open()
		if err != nil {
			return nil, err
		}
		k, err := newKey()
		if err != nil {
			st.Close()
			return nil, err
		}
		pn, err := start(i, st, k)
		if err != nil {
			st.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, pn)
		return pn, nil
	}
	mem := func(i int) (*parleyNode, error) {
		return withStore(i, func() (*store.Store, error) {
			return store.Open("", store.InMemory(), store.WithLogger(cfg.Logger))
		})
	}
	joined := func(pn *parleyNode, group string, want uint64) error {
		return waitUntil(ctx, 30*time.Second, "a joiner has synced the group", func() bool {
			g, err := pn.Group(group)
			return err == nil && g.Messages >= want
		})
	}

	creator, err := mem(0)
	if err != nil {
		return res, err
	}
	gi, err := creator.CreateGroup(ctx, "catchup", false)
	if err != nil {
		return res, err
	}
	code, err := creator.Invite(gi.ID)
	if err != nil {
		return res, err
	}

	// The receiver joins, then goes offline (its store stays).
	rkey, err := newKey()
	if err != nil {
		return res, err
	}
	if rst, err = newStore(cfg, fmt.Sprintf("catchup-%d", missed)); err != nil {
		return res, err
	}
	rcv, err := start(1, rst, rkey)
	if err != nil {
		return res, err
	}
	if _, err = rcv.Join(ctx, code); err == nil {
		err = joined(rcv, gi.ID, 2)
	}
	rcv.Node.Close()
	<-rcv.done
	if err != nil {
		return res, err
	}

	srv, err := withStore(2, func() (*store.Store, error) { return newStore(cfg, fmt.Sprintf("catchup-%d-server", missed)) })
	if err != nil {
		return res, err
	}
	authors := make([]*parleyNode, seedAuthors(missed))
	for i := range authors {
		if authors[i], err = mem(3 + i); err != nil {
			return res, err
		}
	}
	// The server must hold the creator's, the receiver's and its own join.
	for i, pn := range append([]*parleyNode{srv}, authors...) {
		if _, err := pn.Join(ctx, code); err != nil {
			return res, err
		}
		if err := joined(pn, gi.ID, uint64(max(2, 3-i))); err != nil {
			return res, err
		}
	}
	creator.Node.Close() // now nobody is connected to anybody (its store closes below)

	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(authors))
	for i, a := range authors {
		share := missed / len(authors)
		if i == 0 {
			share += missed % len(authors)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range share {
				if _, err := a.Send(ctx, gi.ID, c.filler(cfg.MsgSize)); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	fmt.Fprintf(cfg.Progress, "        %d authors wrote %d messages offline in %.1f s; the server gets them\n", len(authors), missed, time.Since(t0).Seconds())
	// The server gets each author's share straight from its store: synced
	// live, every author would also pull every other's share from the
	// server (20 authors, 20 copies of the history), which is not what is
	// measured here.
	for _, a := range authors {
		if _, err := node.CopyHistory(ctx, srv.st, a.st, gi.ID); err != nil {
			return res, err
		}
	}
	// The authors and the creator are done: their in-memory stores would
	// otherwise count in the peak RSS of the catch-up, and, still
	// referenced, in the heap the collector works against. Nothing may
	// keep pointing at them (a reused slice's tail included).
	for _, pn := range c.nodes {
		if pn != srv {
			pn.stop()
		}
	}
	c.nodes = []*parleyNode{srv}
	nAuthors := len(authors)
	creator, authors = nil, nil
	// Creator, receiver, server and author joins, plus the missed messages.
	want := uint64(missed + 3 + nAuthors)
	if err := waitUntil(ctx, 10*time.Minute, "the server holds the missed history", func() bool {
		g, err := srv.Group(gi.ID)
		return err == nil && g.Messages >= want
	}); err != nil {
		return res, err
	}
	res.SeedSeconds = time.Since(t0).Seconds()
	// The server's store has just taken the whole history in bulk, and
	// Badger compacts that for a while (the process stayed busy for 8 s
	// after a 1,000,000 copy). A member's server has long held its
	// history: start the clock once the process is idle.
	if !settleCPU(ctx, selfMeter{}, serverIdleCores, 10*time.Minute) {
		fmt.Fprintf(cfg.Progress, "        the server's store did not settle within 10 min; timing the catch-up anyway\n")
	}
	res.SettleSeconds = time.Since(t0).Seconds() - res.SeedSeconds
	fmt.Fprintf(cfg.Progress, "        the server's store settled in %.1f s\n", res.SettleSeconds)

	// Back online: the clock runs from restart to holding everything.
	// What seeding freed goes back to the OS first, so that the peak RSS
	// is the catch-up's (the server and the receiver), not the authors'.
	debug.FreeOSMemory()
	sampler := startSampler(selfMeter{}, 250*time.Millisecond)
	if cfg.CatchUpProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", cfg.CatchUpProfile, missed))
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	t1 := time.Now()
	rcv, err = start(1, rst, rkey)
	if err != nil {
		return res, err
	}
	c.nodes = append(c.nodes, &parleyNode{Node: rcv.Node, st: nil, done: rcv.done})
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = rcv.Host().Connect(cctx, peer.AddrInfo{ID: srv.ID(), Addrs: srv.Host().ListenAddrs()}, p2p.SourceDirect)
	cancel()
	if err != nil {
		return res, err
	}
	// Polled on the store: Group (the API's view) also replays the
	// membership log, which every 10 ms would cost the catch-up CPU.
	gid, err := hex.DecodeString(gi.ID)
	if err != nil {
		return res, err
	}
	err = waitUntil(ctx, 10*time.Minute, "the receiver caught up", func() bool {
		st, err := rst.GroupStats(store.GroupID(gid))
		return err == nil && st.Count >= want
	})
	peak, _ := sampler.Stop()
	if cfg.CatchUpProfile != "" {
		pprof.StopCPUProfile() // the timed part only; the deferred stop is then a no-op
	}
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(t1).Seconds()
	res.MsgsPerS = float64(missed) / res.Seconds
	if err := waitUntil(ctx, 10*time.Minute, "the receiver indexed the missed history", func() bool {
		pending, err := rst.DeferredPending()
		return err == nil && !pending
	}); err != nil {
		return res, err
	}
	res.SearchableSeconds = time.Since(t1).Seconds()
	res.PeakRSSMB = float64(peak) / mib
	if g, err := rcv.Group(gi.ID); err == nil {
		res.Stored = g.Messages
	}

	// Memory and disk of the receiver alone: stop everybody else first.
	rcvWrap := c.nodes[len(c.nodes)-1]
	for _, pn := range c.nodes[:len(c.nodes)-1] {
		pn.stop()
	}
	c.nodes = []*parleyNode{rcvWrap}
	settle(200 * time.Millisecond)
	res.RSSMB, res.HeapMB = float64(rssBytes())/mib, float64(heapBytes())/mib
	if cfg.CatchUpHeapProfile != "" {
		if err := (selfProfiler{}).writeHeap(fmt.Sprintf("%s.%d", cfg.CatchUpHeapProfile, missed)); err != nil {
			fmt.Fprintln(os.Stderr, "catch-up heap profile:", err)
		}
	}
	if !cfg.InMemory {
		c.close()
		c.nodes = nil
		err := rst.Close()
		rst = nil
		if err != nil {
			return res, err
		}
		if res.DiskBytes, err = diskUsage(filepath.Join(cfg.Dir, fmt.Sprintf("catchup-%d", missed))); err != nil {
			return res, err
		}
		if res.Stored > 0 {
			res.DiskBytesPerMsg = float64(res.DiskBytes) / float64(res.Stored)
		}
	}
	return res, nil
}

// diskUsage is the space the files under dir occupy on disk (allocated
// blocks, as du reports: Badger preallocates sparse files).
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
