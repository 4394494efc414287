package bench

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/hostcpu"
)

// system is a cluster under measurement: Parley or the raw baseline.
type system interface {
	// size is the number of nodes.
	size() int
	// send publishes one message of size bytes from node from and returns
	// the key under which its deliveries are reported. Called concurrently
	// for different from.
	send(ctx context.Context, from, size int) (string, error)
	// setRecorder directs deliveries (message stored and visible on a
	// node) to r, or nowhere when nil.
	setRecorder(r *recorder)
}

// recorder collects delivery times, per node, for one run. It keeps each
// message's key as 64 bits (deliveryKey) and each time as an offset: a
// string per delivery per node grew to tens of MB over a long run, and the
// harness shares the process, and its soft memory limit, with the nodes.
type recorder struct {
	nodes []nodeDeliveries
}

type nodeDeliveries struct {
	mu sync.Mutex
	at map[deliveryKey]time.Duration // since recorderEpoch
	n  atomic.Int64
	_  [32]byte // keep nodes' locks on separate cache lines
}

// deliveryKey is a message's key (system.send) hashed to 64 bits; a run
// sends far fewer than the 2^32 keys at which two might collide.
type deliveryKey uint64

var deliveryKeySeed = maphash.MakeSeed()

// recorderEpoch anchors stored times on the monotonic clock.
var recorderEpoch = time.Now()

func keyOf(key string) deliveryKey { return deliveryKey(maphash.String(deliveryKeySeed, key)) }

func newRecorder(n, hint int) *recorder {
	r := &recorder{nodes: make([]nodeDeliveries, n)}
	for i := range r.nodes {
		r.nodes[i].at = make(map[deliveryKey]time.Duration, hint)
	}
	return r
}

// deliver notes that node i holds key since t (the first report wins).
func (r *recorder) deliver(i int, key string, t time.Time) {
	k := keyOf(key)
	nd := &r.nodes[i]
	nd.mu.Lock()
	if _, ok := nd.at[k]; !ok {
		nd.at[k] = t.Sub(recorderEpoch)
		nd.n.Add(1)
	}
	nd.mu.Unlock()
}

func (r *recorder) lookup(i int, k deliveryKey) (time.Time, bool) {
	nd := &r.nodes[i]
	nd.mu.Lock()
	d, ok := nd.at[k]
	nd.mu.Unlock()
	return recorderEpoch.Add(d), ok
}

// sent is one message a run sent.
type sent struct {
	key  deliveryKey
	from int
	at   time.Time
}

// runResult is what one paced run measured.
type runResult struct {
	Rate        float64 // offered, msgs/s
	Sent        int
	SendErrors  int
	SendRate    float64 // achieved, msgs/s
	Delivered   int     // deliveries to non-senders
	Expected    int     // sent x (nodes-1)
	Lost        int     // Expected - Delivered after the drain
	Loss        float64 // Lost / Expected
	DeliverRate float64 // msgs/s stored on every node: Sent / (last stored everywhere - first sent)
	AllMs       []float64
	EachMs      []float64
	CPU         time.Duration
	Wall        time.Duration // first send to the end of the drain
	StealPct    float64       // machine CPU time stolen by the hypervisor over the run, %
	Alloc       allocs        // heap allocated by the process over the run
	Store       storeWork     // what the stores and their compactions wrote over the run
}

// maxInFlight bounds the sends one sender has issued but not yet seen
// return. The load is open-loop, as in any throughput measurement: a send is
// issued at its scheduled time whether or not the previous one has returned
// (a node serves many clients at once, and queued sends share a commit). A
// closed loop would measure one caller's round trip instead: with a send
// that returns only after its fsync, that caps a sender at 1/fsync-time.
const maxInFlight = 256

// paced sends rate x dur messages of size bytes, spread over senders nodes,
// each at its scheduled time (a late sender catches up at once), then waits
// up to drain for every node to store every message. Senders that fall
// behind (maxInFlight sends outstanding) stop at 1.5 x dur + 1 s, so a run
// stays bounded; SendRate shows it.
func paced(ctx context.Context, sys system, senders int, rate float64, dur time.Duration, size int, drain time.Duration) (runResult, error) {
	n := sys.size()
	total := max(1, int(rate*dur.Seconds()))
	rec := newRecorder(n, total)
	sys.setRecorder(rec)
	defer sys.setRecorder(nil)

	m := meterOf(sys)
	r0, host0 := m.read(), hostcpu.Read()
	start := time.Now().Add(20 * time.Millisecond)
	interval := time.Duration(float64(time.Second) / rate)
	cutoff := start.Add(dur*3/2 + time.Second)
	logs := make([][]sent, senders)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for s := range senders {
		from := s * n / senders
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			var inflight sync.WaitGroup
			slots := make(chan struct{}, maxInFlight)
			log := make([]sent, 0, total/senders+1)
			defer func() {
				inflight.Wait()
				logs[s] = log
			}()
			for i := s; i < total; i += senders {
				due := start.Add(time.Duration(i) * interval)
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				t := time.Now()
				if t.After(cutoff) {
					<-slots
					return
				}
				inflight.Add(1)
				go func() {
					defer func() { <-slots; inflight.Done() }()
					key, err := sys.send(ctx, from, size)
					if err != nil {
						errs.Add(1)
						return
					}
					mu.Lock()
					log = append(log, sent{key: keyOf(key), from: from, at: t})
					mu.Unlock()
				}()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return runResult{}, ctx.Err()
	}
	var all []sent
	for _, l := range logs {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return runResult{}, errors.New("bench: no message could be sent")
	}
	slices.SortFunc(all, func(a, b sent) int { return a.at.Compare(b.at) })
	sendEnd := time.Now()
	if atSendEnd != nil {
		atSendEnd()
	}

	// Wait until every node holds every message, or the drain ends.
	missing := make([][]int, n)
	for i := range n {
		for j, m := range all {
			if m.from != i {
				missing[i] = append(missing[i], j)
			}
		}
	}
	deadline := sendEnd.Add(drain)
	for {
		left := 0
		for i := range n {
			missing[i] = slices.DeleteFunc(missing[i], func(j int) bool {
				_, ok := rec.lookup(i, all[j].key)
				return ok
			})
			left += len(missing[i])
		}
		if left == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r1 := m.read()
	res := runResult{
		Rate: rate, Sent: len(all), SendErrors: int(errs.Load()),
		Expected: len(all) * (n - 1), CPU: r1.cpu - r0.cpu, StealPct: hostcpu.StealPercent(host0, hostcpu.Read()),
		Alloc: r1.alloc.minus(r0.alloc), Store: r1.store.since(r0.store),
	}
	if span := all[len(all)-1].at.Sub(all[0].at); span > 0 && len(all) > 1 {
		res.SendRate = float64(len(all)-1) / span.Seconds()
	} else {
		res.SendRate = rate
	}
	var lastAll time.Time
	for _, m := range all {
		worst, complete := time.Duration(0), true
		for i := range n {
			if i == m.from {
				continue
			}
			t, ok := rec.lookup(i, m.key)
			if !ok {
				complete = false
				continue
			}
			res.Delivered++
			d := max(t.Sub(m.at), time.Nanosecond)
			res.EachMs = append(res.EachMs, ms(d))
			worst = max(worst, d)
			if t.After(lastAll) {
				lastAll = t
			}
		}
		if complete {
			res.AllMs = append(res.AllMs, ms(worst))
		}
	}
	res.Lost = res.Expected - res.Delivered
	if res.Expected > 0 {
		res.Loss = float64(res.Lost) / float64(res.Expected)
	}
	if res.Lost == 0 {
		if span := lastAll.Sub(all[0].at); span > 0 {
			res.DeliverRate = float64(len(all)) / span.Seconds()
		}
	}
	res.Wall = time.Since(all[0].at)
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// settleDeliveries waits (bounded by limit) until no delivery has arrived
// for quiet, so a failed step's backlog does not spill into the next one.
// It reports whether that happened within limit.
func settleDeliveries(ctx context.Context, sys system, quiet, limit time.Duration) bool {
	rec := newRecorder(sys.size(), 0)
	sys.setRecorder(rec)
	defer sys.setRecorder(nil)
	count := func() (c int64) {
		for i := range rec.nodes {
			c += rec.nodes[i].n.Load()
		}
		return c
	}
	deadline := time.Now().Add(limit)
	last, lastChange := count(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if c := count(); c != last {
			last, lastChange = c, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return true
		}
	}
	return false
}
