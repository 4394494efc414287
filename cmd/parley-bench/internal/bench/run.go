package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/hostcpu"
)

// Percentiles summarises a latency distribution, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

// RunSummary is one paced run of one system.
type RunSummary struct {
	Rate        float64     `json:"rate_msgs_per_s"`      // offered
	SendRate    float64     `json:"send_rate_msgs_per_s"` // achieved by the senders
	DeliverRate float64     `json:"deliver_rate_msgs_per_s,omitempty"`
	Sent        int         `json:"sent"`
	SendErrors  int         `json:"send_errors,omitempty"`
	Lost        int         `json:"lost"`                    // deliveries missing after the drain
	Loss        float64     `json:"loss"`                    // Lost / (sent x (nodes-1))
	AllMembers  Percentiles `json:"all_members"`             // per message: send -> stored on the slowest member
	PerDelivery Percentiles `json:"per_delivery"`            // per (message, member)
	CPUPerMsgUs float64     `json:"cpu_us_per_delivery"`     // process CPU / deliveries
	CPUNetUs    float64     `json:"cpu_net_us_per_delivery"` // the same, less the idle cluster's CPU over the run
	Pass        bool        `json:"pass,omitempty"`          // throughput step: zero loss at >= 90% of the offered rate
	PassP99     bool        `json:"pass_p99,omitempty"`      // ... and p99 to all members within the bound
	Repeat      int         `json:"repeat,omitempty"`        // throughput step: which search (1..repeats)
	Backlog     bool        `json:"backlog,omitempty"`       // the step started before the previous one's backlog had drained
	StealPct    float64     `json:"steal_pct"`               // machine CPU time the hypervisor gave to other guests, %
	// StealRetries: how many times a throughput step was run again
	// because it failed under steal (systemStep).
	StealRetries int `json:"steal_retries,omitempty"`
	// Heap allocated per delivery (process total / deliveries): unlike
	// time, it does not move with a busy neighbour, and the collector's
	// share of the CPU follows it.
	AllocBPerMsg    float64 `json:"alloc_bytes_per_delivery"`
	AllocObjsPerMsg float64 `json:"alloc_objects_per_delivery"`
	// What the stores wrote over the run, all nodes together (storeWork),
	// MB: into their memtables, and in compactions.
	StoreWrittenMB   float64 `json:"store_written_mb,omitempty"`
	StoreCompactedMB float64 `json:"store_compacted_mb,omitempty"`

	allMs, eachMs []float64 // raw latencies, for the CDF
}

// summarize condenses a run; idle is the cluster's idle CPU use (CPU seconds
// per second), subtracted for CPUNetUs.
func summarize(r runResult, idle float64) RunSummary {
	s := RunSummary{Rate: r.Rate, SendRate: r.SendRate, DeliverRate: r.DeliverRate, Sent: r.Sent, SendErrors: r.SendErrors,
		Lost: r.Lost, Loss: r.Loss, AllMembers: percentiles(r.AllMs), PerDelivery: percentiles(r.EachMs),
		StealPct: r.StealPct, allMs: r.AllMs, eachMs: r.EachMs,
		StoreWrittenMB: float64(r.Store.written) / 1e6, StoreCompactedMB: float64(r.Store.compacted) / 1e6}
	if r.Delivered > 0 {
		s.AllocBPerMsg = float64(r.Alloc.bytes) / float64(r.Delivered)
		s.AllocObjsPerMsg = float64(r.Alloc.objects) / float64(r.Delivered)
		s.CPUPerMsgUs = float64(r.CPU.Microseconds()) / float64(r.Delivered)
		net := r.CPU.Seconds() - idle*r.Wall.Seconds()
		s.CPUNetUs = max(net, 0) * 1e6 / float64(r.Delivered)
	}
	return s
}

// Latency is the latency run: Parley and the baseline at the same rate.
type Latency struct {
	MsgSize  int         `json:"msg_size"`
	Rate     float64     `json:"rate_msgs_per_s"`
	Seconds  float64     `json:"seconds"`
	Ours     RunSummary  `json:"ours"`
	Baseline *RunSummary `json:"baseline,omitempty"`
}

// Figure is a throughput figure over the repeated searches: the median and
// range of their results (msgs/s delivered to every node), and how many
// searches could not confirm theirs or stopped at MaxRate.
type Figure struct {
	Spread
	Unconfirmed int `json:"unconfirmed,omitempty"`
	AtMaxRate   int `json:"at_max_rate,omitempty"`
}

func figureOf(outs []searchOutcome, pick func(searchOutcome) searchFigure) Figure {
	var f Figure
	var v []float64
	for _, o := range outs {
		x := pick(o)
		v = append(v, x.Delivered)
		if !x.Confirmed {
			f.Unconfirmed++
		}
		if x.AtMaxRate {
			f.AtMaxRate++
		}
	}
	f.Spread = spreadOf(v)
	return f
}

// Throughput is the throughput searches at one size, Parley's and the
// baseline's, each repeated. The flat figures are medians; the ratios are
// ratios of medians.
type Throughput struct {
	MsgSize     int     `json:"msg_size"`
	Repeats     int     `json:"repeats"`
	P99BoundMs  float64 `json:"p99_bound_ms"`
	Ours        float64 `json:"ours_msgs_per_s"` // zero loss, median
	Baseline    float64 `json:"baseline_msgs_per_s,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	OursP99     float64 `json:"ours_p99_bound_msgs_per_s"` // zero loss and p99 within the bound, median
	BaselineP99 float64 `json:"baseline_p99_bound_msgs_per_s,omitempty"`
	P99Ratio    float64 `json:"p99_bound_ratio,omitempty"`

	OursZeroLoss     Figure  `json:"ours_zero_loss"`
	OursP99Bound     Figure  `json:"ours_p99_bound"`
	BaselineZeroLoss *Figure `json:"baseline_zero_loss,omitempty"`
	BaselineP99Bound *Figure `json:"baseline_p99_bound,omitempty"`

	OursSteps     []RunSummary `json:"ours_steps"` // every step of every repeat, in order
	BaselineSteps []RunSummary `json:"baseline_steps,omitempty"`
}

// Memory is per-node memory.
type Memory struct {
	ProcessBaseRSSMB  float64 `json:"process_base_rss_mb"`                  // before any node started
	SingleNodeRSSMB   float64 `json:"single_node_rss_mb"`                   // process with one idle node
	SingleNodeHeapMB  float64 `json:"single_node_heap_mb"`                  // Go heap in use, one idle node
	ClusterIdleRSSMB  float64 `json:"cluster_idle_rss_mb"`                  // process RSS / nodes, idle cluster
	ClusterIdleHeapMB float64 `json:"cluster_idle_heap_mb"`                 // heap / nodes, idle cluster
	ClusterLoadRSSMB  float64 `json:"cluster_load_rss_mb"`                  // peak process RSS / nodes, throughput runs
	ClusterLoadAnonMB float64 `json:"cluster_load_anon_rss_mb"`             // peak anonymous RSS / nodes, throughput runs
	ClusterRunRSSMB   float64 `json:"cluster_latency_run_rss_mb,omitempty"` // peak process RSS / nodes, latency run
	ClusterLoadHeapMB float64 `json:"cluster_load_heap_mb"`                 // peak heap / nodes, throughput runs
	// With --procs (a process per node): the largest node process's peak
	// RSS and anonymous RSS in the throughput runs.
	LoadMaxNodeRSSMB  float64 `json:"load_max_node_rss_mb,omitempty"`
	LoadMaxNodeAnonMB float64 `json:"load_max_node_anon_rss_mb,omitempty"`
	// With --procs, the same of the baseline's host processes: a process
	// of this binary running a raw GossipSub host is the floor a node
	// process's memory stands on.
	BaselineLoadRSSMB         float64 `json:"baseline_load_rss_mb,omitempty"`
	BaselineLoadMaxNodeRSSMB  float64 `json:"baseline_load_max_node_rss_mb,omitempty"`
	BaselineLoadMaxNodeAnonMB float64 `json:"baseline_load_max_node_anon_rss_mb,omitempty"`
	IdleNodes                 int     `json:"idle_nodes,omitempty"` // the extra idle run's size
	IdleNodesRSSMB            float64 `json:"idle_nodes_rss_mb,omitempty"`
	IdleNodesHeapMB           float64 `json:"idle_nodes_heap_mb,omitempty"`
	IdleNodesFormSec          float64 `json:"idle_nodes_form_seconds,omitempty"`
	IdleNodesGoroutine        int     `json:"idle_nodes_goroutines_per_node,omitempty"`
	// IdleCPUPercent is the CPU an idle node of the cluster uses, in
	// percent of one core (heartbeats, pings, store housekeeping).
	IdleCPUPercent         float64 `json:"idle_cpu_percent_per_node"`
	BaselineIdleCPUPercent float64 `json:"baseline_idle_cpu_percent_per_node,omitempty"`
}

// Result is everything a run measured. The flat fields at the top are the
// headline figures.
type Result struct {
	Nodes              int     `json:"nodes"`
	MsgSize            int     `json:"msg_size"`
	P50Ms              float64 `json:"p50_ms"` // latency run, to all members
	P90Ms              float64 `json:"p90_ms"`
	P99Ms              float64 `json:"p99_ms"`
	MaxMs              float64 `json:"max_ms"`
	BaselineP50Ms      float64 `json:"baseline_p50_ms,omitempty"`
	BaselineP99Ms      float64 `json:"baseline_p99_ms,omitempty"`
	ThroughputMsgsPerS float64 `json:"throughput_msgs_per_s"` // first throughput size
	BaselineThroughput float64 `json:"baseline_throughput_msgs_per_s"`
	ThroughputRatio    float64 `json:"throughput_ratio"`
	ThroughputMsgSize  int     `json:"throughput_msg_size"`
	// The same at p99 to all members within P99BoundMs.
	ThroughputP99MsgsPerS float64 `json:"throughput_p99_bound_msgs_per_s"`
	BaselineThroughputP99 float64 `json:"baseline_throughput_p99_bound_msgs_per_s"`
	ThroughputP99Ratio    float64 `json:"throughput_p99_bound_ratio"`
	P99BoundMs            float64 `json:"p99_bound_ms"`
	Repeats               int     `json:"repeats"` // throughput searches per size and system
	Loss                  float64 `json:"loss"`    // latency run
	RSSMB                 float64 `json:"rss_mb"`  // process RSS with one idle node
	CPUUsPerDelivery      float64 `json:"cpu_us_per_delivery"`
	CPUNetUsPerDelivery   float64 `json:"cpu_net_us_per_delivery"`
	BaselineCPUUsPerDel   float64 `json:"baseline_cpu_us_per_delivery,omitempty"`

	Latency    *Latency        `json:"latency,omitempty"`
	Throughput []Throughput    `json:"throughput,omitempty"`
	CatchUp    []CatchUpResult `json:"catch_up,omitempty"`
	Memory     Memory          `json:"memory"`
	Growth     *Growth         `json:"growth,omitempty"`
	Soak       *Soak           `json:"soak,omitempty"`

	Net   string `json:"net"`
	Procs bool   `json:"procs,omitempty"` // Config.Procs: a process per node
	Store string `json:"store"`
	Text  string `json:"text"` // Config.Text
	// Signed is the same runs on GossipSub with its own signatures
	// (Config.SignedBaseline).
	Signed  *Signed `json:"signed_baseline,omitempty"`
	Degree  int     `json:"degree"`
	Senders int     `json:"senders"`
	// SendLingerMs is each node's send linger (node.WithSendLinger).
	SendLingerMs float64 `json:"send_linger_ms"`
	GoVersion    string  `json:"go_version"`
	CPUs         int     `json:"cpus"`
	Seconds      float64 `json:"seconds"` // whole run
	Started      string  `json:"started"`
	// LoadAvg is the machine's 1-minute load average at the start and the
	// end: above the CPU count, other processes competed for the CPUs and
	// the latency and throughput figures are pessimistic.
	LoadAvg [2]float64 `json:"load_avg"`
	// StealPct is the share of the machine's CPU time the hypervisor gave
	// to other guests over the whole run: a busy neighbour on a shared host,
	// which the load average does not show.
	StealPct float64 `json:"steal_pct"`
}

// finish records the run's length and what the machine did meanwhile.
func (r *Result) finish(t0 time.Time, host0 hostcpu.Ticks) {
	r.Seconds = time.Since(t0).Seconds()
	r.LoadAvg[1] = hostcpu.LoadAvg()
	r.StealPct = hostcpu.StealPercent(host0, hostcpu.Read())
}

// retryNote says that a step was run again under steal.
func retryNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (ran %d times: failed under steal; the least disturbed run counts)", n+1)
}

// Run measures everything cfg asks for.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	senders := cfg.Senders // as asked: fill sets 0 to every node
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if cfg.Dir == "" && !cfg.InMemory {
		dir, err := os.MkdirTemp("", "parley-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	res := &Result{
		Nodes: cfg.Nodes, MsgSize: cfg.MsgSize, Net: cfg.Net, Procs: cfg.Procs, Store: "badger-disk", Text: cfg.Text, Degree: cfg.Degree,
		Senders: cfg.Senders, SendLingerMs: ms(cfg.effectiveLinger()), Repeats: cfg.Repeats, P99BoundMs: ms(cfg.P99Bound), GoVersion: runtime.Version(), CPUs: runtime.GOMAXPROCS(0), Started: t0.UTC().Format(time.RFC3339),
	}
	if cfg.InMemory {
		res.Store = "badger-memory"
	}
	host0 := hostcpu.Read()
	res.LoadAvg[0] = hostcpu.LoadAvg()
	say := func(format string, a ...any) {
		fmt.Fprintf(cfg.Progress, "[%5.1fs] "+format+"\n", append([]any{time.Since(t0).Seconds()}, a...)...)
	}
	rng := rand.New(rand.NewPCG(uint64(t0.UnixNano()), 1))

	// 1. Memory of one idle node, first, while the process is fresh.
	settle(0)
	res.Memory.ProcessBaseRSSMB = float64(rssBytes()) / mib
	if err := idleSingle(ctx, &cfg, res, rng); err != nil {
		return nil, fmt.Errorf("idle node: %w", err)
	}
	res.RSSMB = res.Memory.SingleNodeRSSMB
	say("idle single node: process RSS %.1f MB, heap %.1f MB", res.Memory.SingleNodeRSSMB, res.Memory.SingleNodeHeapMB)

	// 2. Many idle nodes in one process.
	if cfg.IdleNodes > 0 {
		if err := idleMany(ctx, &cfg, res, rng, say); err != nil {
			return nil, fmt.Errorf("idle %d nodes: %w", cfg.IdleNodes, err)
		}
	}

	// A soak, instead of the standard runs.
	if cfg.Soak > 0 {
		if err := runSoak(ctx, &cfg, res, rng, say); err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
		res.finish(t0, host0)
		return res, nil
	}

	// Cost as work grows, instead of the standard runs.
	if cfg.Growth {
		if err := runGrowth(ctx, &cfg, res, rng, senders, say); err != nil {
			return nil, err
		}
		res.finish(t0, host0)
		return res, nil
	}

	// 3. Parley cluster, then the baseline on the same topology.
	needCluster := !cfg.SkipLatency || len(cfg.ThroughputSizes) > 0
	if needCluster {
		say("starting %d Parley nodes (%s, %s%s)", cfg.Nodes, cfg.Net, res.Store, procsNote(cfg.Procs))
		pc, topo, err := startParley(ctx, &cfg, rng)
		if err != nil {
			return nil, fmt.Errorf("parley cluster: %w", err)
		}
		say("group formed; warming up")
		err = measureSystem(ctx, &cfg, pc, res, false, say)
		pc.close()
		if err != nil {
			return nil, err
		}
		if !cfg.SkipBaseline {
			settle(200 * time.Millisecond)
			say("starting %d raw GossipSub hosts", cfg.Nodes)
			rc, err := startBaseline(ctx, &cfg, topo)
			if err != nil {
				return nil, fmt.Errorf("baseline cluster: %w", err)
			}
			err = measureSystem(ctx, &cfg, rc, res, true, say)
			rc.close()
			if err != nil {
				return nil, err
			}
		}
		if cfg.SignedBaseline {
			if res.Signed, err = measureSigned(ctx, cfg, topo, res, say); err != nil {
				return nil, err
			}
		}
	}

	// 4. Catch-up.
	for _, m := range cfg.CatchUp {
		if m <= 0 {
			continue
		}
		settle(0)
		say("catch-up of %d messages: seeding", m)
		cu, err := catchUp(ctx, &cfg, m)
		if err != nil {
			return nil, fmt.Errorf("catch-up %d: %w", m, err)
		}
		say("catch-up of %d messages: %.2f s (%.0f msgs/s)", m, cu.Seconds, cu.MsgsPerS)
		res.CatchUp = append(res.CatchUp, cu)
	}

	// Headline figures.
	if l := res.Latency; l != nil {
		res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = l.Ours.AllMembers.P50, l.Ours.AllMembers.P90, l.Ours.AllMembers.P99, l.Ours.AllMembers.Max
		res.Loss = l.Ours.Loss
		res.CPUUsPerDelivery, res.CPUNetUsPerDelivery = l.Ours.CPUPerMsgUs, l.Ours.CPUNetUs
		if l.Baseline != nil {
			res.BaselineP50Ms, res.BaselineP99Ms = l.Baseline.AllMembers.P50, l.Baseline.AllMembers.P99
			res.BaselineCPUUsPerDel = l.Baseline.CPUPerMsgUs
		}
	}
	if len(res.Throughput) > 0 {
		t := res.Throughput[0]
		for _, x := range res.Throughput {
			if x.MsgSize == cfg.MsgSize {
				t = x
			}
		}
		res.ThroughputMsgSize, res.ThroughputMsgsPerS, res.BaselineThroughput, res.ThroughputRatio = t.MsgSize, t.Ours, t.Baseline, t.Ratio
		res.ThroughputP99MsgsPerS, res.BaselineThroughputP99, res.ThroughputP99Ratio = t.OursP99, t.BaselineP99, t.P99Ratio
	}
	res.finish(t0, host0)
	return res, nil
}

// measureSystem runs the latency run and the throughput searches on sys.
func measureSystem(ctx context.Context, cfg *Config, sys system, res *Result, baseline bool, say func(string, ...any)) error {
	name := "parley"
	if baseline {
		name = "baseline"
		if cfg.BaselineSign {
			name = "signed baseline"
		}
	}
	n := sys.size()
	// Let the first heartbeats build the mesh, then a warm-up that is not measured.
	time.Sleep(1200 * time.Millisecond)
	if _, err := paced(ctx, sys, cfg.Senders, 50, time.Duration(float64(time.Second)*float64(2*n)/50), cfg.MsgSize, 5*time.Second); err != nil {
		return fmt.Errorf("%s warm-up: %w", name, err)
	}
	m := meterOf(sys)
	m.settle(500 * time.Millisecond)
	r0, t0 := m.read(), time.Now()
	rss, heap := r0.rss, r0.heap
	time.Sleep(cfg.IdleWindow)
	idle := (m.read().cpu - r0.cpu).Seconds() / time.Since(t0).Seconds() // CPU seconds per second
	if baseline {
		res.Memory.BaselineIdleCPUPercent = 100 * idle / float64(n)
	} else {
		res.Memory.ClusterIdleRSSMB = float64(rss) / mib / float64(n)
		res.Memory.ClusterIdleHeapMB = float64(heap) / mib / float64(n)
		res.Memory.IdleCPUPercent = 100 * idle / float64(n)
	}
	say("%s idle cluster: %.1f MB RSS, %.2f%% of a core per node", name, float64(rss)/mib/float64(n), 100*idle/float64(n))
	if !cfg.SkipLatency {
		ls := startSampler(m, 250*time.Millisecond)
		stopProfile := startLoadProfile(sys, baseline)
		r, err := paced(ctx, sys, cfg.Senders, cfg.Rate, cfg.Duration, cfg.MsgSize, cfg.Drain)
		stopProfile()
		if peak, _ := ls.Stop(); !baseline {
			res.Memory.ClusterRunRSSMB = float64(peak) / mib / float64(n)
		}
		if err != nil {
			return fmt.Errorf("%s latency run: %w", name, err)
		}
		s := summarize(r, idle)
		if res.Latency == nil {
			res.Latency = &Latency{MsgSize: cfg.MsgSize, Rate: cfg.Rate, Seconds: cfg.Duration.Seconds()}
		}
		if baseline {
			res.Latency.Baseline = &s
		} else {
			res.Latency.Ours = s
		}
		say("%s latency at %.0f msgs/s (sent at %.0f): p50 %.2f p99 %.2f max %.2f ms (all members), loss %.4f, steal %.0f%%%s", name, cfg.Rate,
			s.SendRate, s.AllMembers.P50, s.AllMembers.P99, s.AllMembers.Max, s.Loss, s.StealPct, storeNote(s))
	}
	var sampler *memSampler
	if len(cfg.ThroughputSizes) > 0 && (!baseline || cfg.Procs) { // in one process the baseline's memory is not its own
		sampler = startSampler(m, 250*time.Millisecond)
	}
	for _, size := range cfg.ThroughputSizes {
		outs, err := searchRepeated(ctx, cfg, sys, size, idle, name, say)
		if err != nil {
			if sampler != nil {
				sampler.Stop()
			}
			return fmt.Errorf("%s throughput %d B: %w", name, size, err)
		}
		var t *Throughput
		for i := range res.Throughput {
			if res.Throughput[i].MsgSize == size {
				t = &res.Throughput[i]
			}
		}
		if t == nil {
			res.Throughput = append(res.Throughput, Throughput{MsgSize: size, Repeats: cfg.Repeats, P99BoundMs: ms(cfg.P99Bound)})
			t = &res.Throughput[len(res.Throughput)-1]
		}
		zero := figureOf(outs, func(o searchOutcome) searchFigure { return o.ZeroLoss })
		p99 := figureOf(outs, func(o searchOutcome) searchFigure { return o.P99 })
		var steps []RunSummary
		for _, o := range outs {
			steps = append(steps, o.Steps...)
		}
		if baseline {
			t.BaselineZeroLoss, t.BaselineP99Bound, t.BaselineSteps = &zero, &p99, steps
			t.Baseline, t.BaselineP99 = zero.Median, p99.Median
		} else {
			t.OursZeroLoss, t.OursP99Bound, t.OursSteps = zero, p99, steps
			t.Ours, t.OursP99 = zero.Median, p99.Median
		}
		t.Ratio, t.P99Ratio = ratioOf(t.Ours, t.Baseline), ratioOf(t.OursP99, t.BaselineP99)
		say("%s %d B over %d searches: zero loss %.0f msgs/s (%.0f-%.0f), p99 <= %v %.0f msgs/s (%.0f-%.0f)", name, size, len(outs),
			zero.Median, zero.Min, zero.Max, cfg.P99Bound, p99.Median, p99.Min, p99.Max)
	}
	if sampler != nil && baseline {
		rss, _ := sampler.Stop()
		res.Memory.BaselineLoadRSSMB = float64(rss) / mib / float64(n)
		res.Memory.BaselineLoadMaxNodeRSSMB = float64(sampler.peakMaxRSS) / mib
		res.Memory.BaselineLoadMaxNodeAnonMB = float64(sampler.peakMaxAnon) / mib
	} else if sampler != nil {
		rss, heap := sampler.Stop()
		res.Memory.ClusterLoadRSSMB = float64(rss) / mib / float64(n)
		res.Memory.ClusterLoadAnonMB = float64(sampler.PeakAnon()) / mib / float64(n)
		res.Memory.ClusterLoadHeapMB = float64(heap) / mib / float64(n)
		if cfg.Procs {
			res.Memory.LoadMaxNodeRSSMB = float64(sampler.peakMaxRSS) / mib
			res.Memory.LoadMaxNodeAnonMB = float64(sampler.peakMaxAnon) / mib
		}
	}
	return nil
}

// searchRepeated runs cfg.Repeats independent throughput searches at size.
func searchRepeated(ctx context.Context, cfg *Config, sys system, size int, idle float64, name string, say func(string, ...any)) ([]searchOutcome, error) {
	var outs []searchOutcome
	for rep := 1; rep <= cfg.Repeats; rep++ {
		o, err := searchRates(ctx, startRate(size, cfg.MaxRate), cfg.MaxRate, cfg.MaxSteps, ms(cfg.P99Bound), systemStep(cfg, sys, size, idle), func(s RunSummary) {
			say("%s %d B search %d at %.0f msgs/s: delivered %.0f msgs/s, loss %.4f, p99 %.1f ms, zero loss %v, p99 <= %v %v, steal %.0f%%%s%s", name, size, rep,
				s.Rate, s.DeliverRate, s.Loss, s.AllMembers.P99, s.Pass, cfg.P99Bound, s.PassP99, s.StealPct, storeNote(s), backlogNote(s.Backlog)+retryNote(s.StealRetries))
		})
		for i := range o.Steps {
			o.Steps[i].Repeat = rep
		}
		if err != nil {
			return outs, err
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// storeNote is what the stores and their compactions wrote, for a run's
// log line (nothing for the baseline, which stores nothing).
func storeNote(s RunSummary) string {
	if s.StoreWrittenMB == 0 && s.StoreCompactedMB == 0 {
		return ""
	}
	return fmt.Sprintf(", stores wrote %.1f MB, compactions %.1f MB", s.StoreWrittenMB, s.StoreCompactedMB)
}

func backlogNote(b bool) string {
	if b {
		return " (started on a backlog)"
	}
	return ""
}

// idleSingle measures the process with one idle node in a group.
func idleSingle(ctx context.Context, cfg *Config, res *Result, rng *rand.Rand) error {
	c := &parleyCluster{cfg: cfg, topo: newTopology(1, cfg.Degree, rng), fill: map[int]string{}}
	k, err := newKey()
	if err != nil {
		return err
	}
	st, err := newStore(cfg, "idle-single")
	if err != nil {
		return err
	}
	opts, err := hostOpts(&Config{Net: NetTCP}, nil, k, 0)
	if err != nil {
		st.Close()
		return err
	}
	pn, err := c.startNode(ctx, 0, st, k, opts)
	if err != nil {
		st.Close()
		return err
	}
	c.nodes = append(c.nodes, pn)
	defer c.close()
	if _, err := pn.CreateGroup(ctx, "idle", false); err != nil {
		return err
	}
	settle(cfg.IdleWindow)
	res.Memory.SingleNodeRSSMB = float64(rssBytes()) / mib
	res.Memory.SingleNodeHeapMB = float64(heapBytes()) / mib
	return nil
}

// idleMany starts cfg.IdleNodes nodes in one group and measures memory per node.
func idleMany(ctx context.Context, cfg *Config, res *Result, rng *rand.Rand, say func(string, ...any)) error {
	n := cfg.IdleNodes
	say("starting %d idle Parley nodes", n)
	g0 := runtime.NumGoroutine()
	t := time.Now()
	c, err := startParleyCluster(ctx, cfg, n, rng)
	if err != nil {
		return err
	}
	defer c.close()
	res.Memory.IdleNodes = n
	res.Memory.IdleNodesFormSec = time.Since(t).Seconds()
	settle(cfg.IdleWindow)
	res.Memory.IdleNodesRSSMB = float64(rssBytes()) / mib / float64(n)
	res.Memory.IdleNodesHeapMB = float64(heapBytes()) / mib / float64(n)
	res.Memory.IdleNodesGoroutine = (runtime.NumGoroutine() - g0) / n
	say("%d idle nodes formed a group in %.1f s: %.1f MB RSS, %.1f MB heap, %d goroutines per node", n,
		res.Memory.IdleNodesFormSec, res.Memory.IdleNodesRSSMB, res.Memory.IdleNodesHeapMB, res.Memory.IdleNodesGoroutine)
	return nil
}

func procsNote(procs bool) string {
	if procs {
		return ", a process each"
	}
	return ""
}
