package bench

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/hostcpu"
)

// WriteJSON writes the result, indented, to path (creating its directory).
func (r *Result) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ratio(ours, base float64) string {
	if ours == 0 || base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", ours/base)
}

func num(v float64, prec int) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// writeLatencyTable prints a latency run of Parley's beside a baseline's.
func writeLatencyTable(b *strings.Builder, baseName string, ours, base RunSummary) {
	fmt.Fprintf(b, "| measure | Parley | %s | ratio |\n|---|---:|---:|---:|\n", baseName)
	row := func(name string, o, x float64, prec int) {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", name, num(o, prec), num(x, prec), ratio(o, x))
	}
	row("p50 to all members, ms", ours.AllMembers.P50, base.AllMembers.P50, 2)
	row("p90 to all members, ms", ours.AllMembers.P90, base.AllMembers.P90, 2)
	row("p99 to all members, ms", ours.AllMembers.P99, base.AllMembers.P99, 2)
	row("max to all members, ms", ours.AllMembers.Max, base.AllMembers.Max, 2)
	row("p50 per delivery, ms", ours.PerDelivery.P50, base.PerDelivery.P50, 2)
	row("p99 per delivery, ms", ours.PerDelivery.P99, base.PerDelivery.P99, 2)
	row("achieved send rate, msgs/s", ours.SendRate, base.SendRate, 0)
	row("CPU per delivery, us", ours.CPUPerMsgUs, base.CPUPerMsgUs, 1)
	row("CPU per delivery less idle, us", ours.CPUNetUs, base.CPUNetUs, 1)
	row("heap allocated per delivery, KB", ours.AllocBPerMsg/1024, base.AllocBPerMsg/1024, 1)
	row("heap objects allocated per delivery", ours.AllocObjsPerMsg, base.AllocObjsPerMsg, 0)
	fmt.Fprintf(b, "| sent / lost deliveries | %d / %d | %d / %d | |\n", ours.Sent, ours.Lost, base.Sent, base.Lost)
	fmt.Fprintf(b, "| CPU steal over the run, %% of the machine | %.1f | %.1f | |\n\n", ours.StealPct, base.StealPct)
}

// writeThroughputHeader starts a throughput table against a baseline.
func writeThroughputHeader(b *strings.Builder, baseName, baseCPUName string) {
	fmt.Fprintf(b, "| message size | figure | Parley msgs/s | %s msgs/s | ratio | Parley CPU us/delivery (less idle) | %s CPU us/delivery (less idle) |\n|---:|---|---:|---:|---:|---:|---:|\n", baseName, baseCPUName)
}

// writeThroughputRows prints Parley's two throughput figures at t's size
// beside a baseline's (nil figures: the baseline did not run).
func writeThroughputRows(b *strings.Builder, t Throughput, zero, p99 *Figure, steps []RunSummary) {
	median := func(f *Figure) float64 {
		if f == nil {
			return 0
		}
		return f.Median
	}
	fmt.Fprintf(b, "| %d B | zero loss | %s | %s | %s | %s | %s |\n", t.MsgSize, figureText(&t.OursZeroLoss), figureText(zero),
		ratio(t.Ours, median(zero)), num(bestCPU(t.OursSteps), 1), num(bestCPU(steps), 1))
	fmt.Fprintf(b, "| %d B | p99 <= %s ms | %s | %s | %s | | |\n", t.MsgSize, num(t.P99BoundMs, 0), figureText(&t.OursP99Bound), figureText(p99),
		ratio(t.OursP99, median(p99)))
}

// signedNote heads the tables against the signed baseline.
const signedNote = "Against **GossipSub that signs every message** (`--signed-baseline`, StrictSign: the publisher signs each message with its Ed25519 key, every hop checks the signature before forwarding), the least any design that authenticates each message's author adds to raw GossipSub; measured after the raw baseline, same run, same topology.\n\n"

// WriteMarkdown prints the figures as Markdown tables: ours, the baseline's
// and the ratio (ours / baseline; for latency and CPU lower is better, for
// throughput higher is better).
func (r *Result) WriteMarkdown(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "## Parley benchmark\n\n%d nodes%s, %s, %s store, texts: %s, degree %d, %d senders, send linger %g ms, %s, %d CPUs, run took %.0f s.\n\n",
		r.Nodes, procsNote(r.Procs), r.Net, r.Store, r.Text, r.Degree, r.Senders, r.SendLingerMs, r.GoVersion, r.CPUs, r.Seconds)
	if r.LoadAvg[0] > float64(r.CPUs) || r.LoadAvg[1] > float64(r.CPUs) {
		fmt.Fprintf(&b, "**Warning:** load average %.1f at start, %.1f at end, on %d CPUs: other processes competed for the CPUs, so latency and throughput are pessimistic (CPU per delivery is not affected much).\n\n",
			r.LoadAvg[0], r.LoadAvg[1], r.CPUs)
	}
	if r.StealPct > hostcpu.StealWarnPercent {
		fmt.Fprintf(&b, "**Warning:** the hypervisor gave %.0f%% of this machine's CPU time to other guests over the run (steal): latency and throughput are pessimistic, and ratios against the baseline only hold if the baseline's steps saw as much (the steal of each step is in the progress log and the JSON).\n\n", r.StealPct)
	} else {
		fmt.Fprintf(&b, "CPU steal over the run: %.1f%% (time the hypervisor gave to other guests).\n\n", r.StealPct)
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(&b, "### Latency: %d-byte messages at %.0f msgs/s for %.0f s (send -> stored and visible)\n\n", l.MsgSize, l.Rate, l.Seconds)
		base := RunSummary{}
		if l.Baseline != nil {
			base = *l.Baseline
		}
		writeLatencyTable(&b, "raw GossipSub", l.Ours, base)
		if r.Signed != nil && r.Signed.Latency != nil {
			b.WriteString(signedNote)
			writeLatencyTable(&b, "signed GossipSub", l.Ours, *r.Signed.Latency)
		}
	}
	if len(r.Throughput) > 0 {
		t0 := r.Throughput[0]
		fmt.Fprintf(&b, "### Throughput: highest rate stored on every node, median of %d searches (min-max)\n\n", t0.Repeats)
		fmt.Fprintf(&b, "Zero loss: every node stores every message at >= 90%% of the offered rate. p99 <= %s ms: the same, and p99 send -> stored on all members within the bound. Ratio: of the medians.\n\n", num(t0.P99BoundMs, 0))
		writeThroughputHeader(&b, "raw GossipSub", "baseline")
		for _, t := range r.Throughput {
			writeThroughputRows(&b, t, t.BaselineZeroLoss, t.BaselineP99Bound, t.BaselineSteps)
		}
		b.WriteString("\n")
		if r.Signed != nil && len(r.Signed.Throughput) > 0 {
			b.WriteString(signedNote)
			writeThroughputHeader(&b, "signed GossipSub", "signed GossipSub")
			for _, st := range r.Signed.Throughput {
				for _, t := range r.Throughput {
					if t.MsgSize == st.MsgSize {
						writeThroughputRows(&b, t, &st.ZeroLoss, &st.P99Bound, st.Steps)
					}
				}
			}
			b.WriteString("\n")
		}
	}
	if len(r.CatchUp) > 0 {
		b.WriteString("### Catch-up: a member back from offline gets the messages it missed\n\n")
		writeCatchUp(&b, r.CatchUp)
	}
	if r.Growth != nil {
		writeGrowth(&b, r.Growth, r.Procs)
	}
	if r.Soak != nil {
		writeSoak(&b, r.Soak, r.Procs)
	}
	m := r.Memory
	b.WriteString("### Memory\n\nRSS is what the OS holds for the process; heap is Go's HeapInuse, which also counts large buffers (Badger's) whose pages were never touched, so it can exceed RSS.\n\n| measure | MB |\n|---|---:|\n")
	fmt.Fprintf(&b, "| process before any node (RSS) | %.1f |\n", m.ProcessBaseRSSMB)
	fmt.Fprintf(&b, "| process with one idle node (RSS) | %.1f |\n", m.SingleNodeRSSMB)
	fmt.Fprintf(&b, "| one idle node, Go heap | %.1f |\n", m.SingleNodeHeapMB)
	if m.ClusterIdleRSSMB > 0 {
		fmt.Fprintf(&b, "| per node, idle %d-node cluster (RSS / heap) | %.1f / %.1f |\n", r.Nodes, m.ClusterIdleRSSMB, m.ClusterIdleHeapMB)
		fmt.Fprintf(&b, "| (CPU of an idle node: %.2f%% of a core; raw GossipSub host: %.2f%%) | |\n", m.IdleCPUPercent, m.BaselineIdleCPUPercent)
	}
	if m.ClusterLoadRSSMB > 0 {
		fmt.Fprintf(&b, "| per node, peak under throughput load (RSS / heap) | %.1f / %.1f |\n", m.ClusterLoadRSSMB, m.ClusterLoadHeapMB)
		fmt.Fprintf(&b, "| per node, peak under throughput load, anonymous RSS (not mapped files) | %.1f |\n", m.ClusterLoadAnonMB)
	}
	if m.LoadMaxNodeRSSMB > 0 {
		fmt.Fprintf(&b, "| largest node process, peak under throughput load (RSS / anonymous) | %.1f / %.1f |\n", m.LoadMaxNodeRSSMB, m.LoadMaxNodeAnonMB)
	}
	if m.BaselineLoadMaxNodeRSSMB > 0 {
		fmt.Fprintf(&b, "| raw GossipSub host process, peak under its throughput load: per host (RSS) | %.1f |\n", m.BaselineLoadRSSMB)
		fmt.Fprintf(&b, "| raw GossipSub host process, largest (RSS / anonymous) | %.1f / %.1f |\n", m.BaselineLoadMaxNodeRSSMB, m.BaselineLoadMaxNodeAnonMB)
	}
	if m.IdleNodes > 0 {
		fmt.Fprintf(&b, "| per node, %d idle nodes in one process (RSS / heap) | %.1f / %.1f |\n", m.IdleNodes, m.IdleNodesRSSMB, m.IdleNodesHeapMB)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// figureText is "median (min-max)", with a note when some searches did not
// confirm their figure or stopped at the highest rate allowed.
func figureText(f *Figure) string {
	if f == nil || len(f.Values) == 0 {
		return "-"
	}
	t := num(f.Median, 0)
	if len(f.Values) > 1 {
		t += fmt.Sprintf(" (%.0f-%.0f)", f.Min, f.Max)
	}
	if f.Unconfirmed > 0 {
		t += fmt.Sprintf(", %d unconfirmed", f.Unconfirmed)
	}
	if f.AtMaxRate > 0 {
		t += fmt.Sprintf(", %d at --max-rate", f.AtMaxRate)
	}
	return t
}

func writeCatchUp(b *strings.Builder, cs []CatchUpResult) {
	b.WriteString("Seconds run from the receiver's restart until it holds every missed message; searchable, until their words are in its search index too (synced messages are indexed after they are stored).\n\n")
	b.WriteString("| missed | seconds | msgs/s | searchable after, s | peak RSS while catching up, MB | RSS with only the receiver, MB | receiver heap, MB | disk bytes per stored message |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cs {
		fmt.Fprintf(b, "| %d | %.2f | %.0f | %.2f | %s | %s | %s | %s |\n", c.Missed, c.Seconds, c.MsgsPerS, c.SearchableSeconds, num(c.PeakRSSMB, 1), num(c.RSSMB, 1), num(c.HeapMB, 1), num(c.DiskBytesPerMsg, 0))
	}
	b.WriteString("\n")
}

func writeGrowth(b *strings.Builder, g *Growth, procs bool) {
	if len(g.Nodes) > 0 {
		fmt.Fprintf(b, "### Cost as the group grows: %d-byte messages at %.0f msgs/s for %.0f s\n\n", g.MsgSize, g.Rate, g.Seconds)
		if procs {
			b.WriteString("Latency is send -> stored on all members. Each node is a process of its own: memory per node is the node processes' RSS, summed, divided by the nodes.\n\n")
		} else {
			b.WriteString("Latency is send -> stored on all members. Memory per node is the process RSS less the process before any node, divided by the nodes.\n\n")
		}
		b.WriteString("| nodes | p50 ms | p99 ms | raw GossipSub p50 / p99 ms | loss | CPU us/delivery (less idle) | raw GossipSub CPU us/delivery | RSS MB/node idle | RSS MB/node in the run | idle CPU % of a core/node | steal % (Parley / raw) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, n := range g.Nodes {
			base := "-"
			baseCPU := "-"
			steal := fmt.Sprintf("%.0f / -", n.Ours.StealPct)
			if n.Baseline != nil {
				base = fmt.Sprintf("%.2f / %.2f", n.Baseline.AllMembers.P50, n.Baseline.AllMembers.P99)
				baseCPU = num(n.Baseline.CPUPerMsgUs, 1)
				steal = fmt.Sprintf("%.0f / %.0f", n.Ours.StealPct, n.Baseline.StealPct)
			}
			fmt.Fprintf(b, "| %d | %.2f | %.2f | %s | %.4f | %s (%s) | %s | %.1f | %.1f | %.2f | %s |\n", n.Nodes, n.Ours.AllMembers.P50, n.Ours.AllMembers.P99, base,
				n.Ours.Loss, num(n.Ours.CPUPerMsgUs, 1), num(n.Ours.CPUNetUs, 1), baseCPU, n.IdleRSSMBPerNode, n.RunRSSMBPerNode, n.IdleCPUPercent, steal)
		}
		b.WriteString("\n")
	}
	if len(g.History) > 0 {
		fmt.Fprintf(b, "### Cost as history grows: catch-up of a member that missed the history (%d-byte messages)\n\n", g.MsgSize)
		writeCatchUp(b, g.History)
	}
}

// bestCPU is the CPU per delivery, less idle, of the fastest passing step
// (or of the last step when none passed).
func bestCPU(steps []RunSummary) float64 {
	best, cpu := 0.0, 0.0
	for _, s := range steps {
		if s.Pass && s.DeliverRate > best {
			best, cpu = s.DeliverRate, s.CPUNetUs
		}
	}
	if cpu == 0 && len(steps) > 0 {
		cpu = steps[len(steps)-1].CPUNetUs
	}
	return cpu
}

// cdf turns latencies into CDF points.
func cdf(v []float64) plotter.XYs {
	s := slices.Clone(v)
	slices.Sort(s)
	// At most ~2000 points: enough for the eye.
	step := max(1, len(s)/2000)
	var pts plotter.XYs
	for i := 0; i < len(s); i += step {
		pts = append(pts, plotter.XY{X: max(s[i], 0.001), Y: float64(i+1) / float64(len(s))})
	}
	if len(s) > 0 {
		pts = append(pts, plotter.XY{X: max(s[len(s)-1], 0.001), Y: 1})
	}
	return pts
}

// WritePNG draws the latency run's CDFs, Parley and baseline, to path.
func (r *Result) WritePNG(path string) error {
	l := r.Latency
	if l == nil {
		return fmt.Errorf("bench: no latency run to plot")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Delivery latency CDF: %d nodes, %d B, %.0f msgs/s (%s)", r.Nodes, l.MsgSize, l.Rate, r.Net)
	p.X.Label.Text = "send -> stored and visible (ms, log scale)"
	p.Y.Label.Text = "fraction of messages"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	type series struct {
		name  string
		v     []float64
		color color.Color
		dash  bool
	}
	ss := []series{
		{"Parley, to all members", l.Ours.allMs, color.RGBA{R: 200, G: 30, B: 30, A: 255}, false},
		{"Parley, per delivery", l.Ours.eachMs, color.RGBA{R: 200, G: 30, B: 30, A: 255}, true},
	}
	if l.Baseline != nil {
		ss = append(ss,
			series{"raw GossipSub, to all members", l.Baseline.allMs, color.RGBA{R: 30, G: 60, B: 200, A: 255}, false},
			series{"raw GossipSub, per delivery", l.Baseline.eachMs, color.RGBA{R: 30, G: 60, B: 200, A: 255}, true})
	}
	for _, s := range ss {
		if len(s.v) == 0 {
			continue
		}
		line, err := plotter.NewLine(cdf(s.v))
		if err != nil {
			return err
		}
		line.Color = s.color
		line.Width = vg.Points(1.5)
		if s.dash {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	p.Legend.Left = false
	p.Legend.Top = false
	p.Legend.XOffs = -vg.Points(5)
	p.Legend.YOffs = vg.Points(10)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
