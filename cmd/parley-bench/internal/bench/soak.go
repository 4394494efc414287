package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Soak is a long run at a steady rate, cut into windows: whether RSS,
// goroutines and disk stay flat (disk growing in line with the payload)
// while latency holds. Issue 16's "soak".
type Soak struct {
	Nodes   int          `json:"nodes"`
	Rate    float64      `json:"rate_msgs_per_s"`
	MsgSize int          `json:"msg_size"`
	Windows []SoakWindow `json:"windows"`
	// DiskBytesPerMsg is the store growth over the run divided by the
	// messages stored (each message is stored on every node). Only a long
	// run says much: Badger preallocates its write-ahead log.
	DiskBytesPerMsg float64 `json:"disk_bytes_per_stored_msg"`
}

// SoakWindow is one window of the soak: its latency and the process state
// at its end.
type SoakWindow struct {
	EndS       float64 `json:"end_s"`
	Sent       int     `json:"sent"`
	Lost       int     `json:"lost"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	RSSMB      float64 `json:"rss_mb"`      // process, at the end of the window
	PeakRSSMB  float64 `json:"peak_rss_mb"` // process, highest sample in the window
	AnonMB     float64 `json:"anon_rss_mb"` // anonymous part of RSS at the end (not mapped files)
	PeakAnonMB float64 `json:"peak_anon_rss_mb"`
	HeapMB     float64 `json:"heap_mb"`
	Goroutines int     `json:"goroutines"` // with --procs, of every node process together
	// PeakMaxNodeRSSMB is, with --procs, the largest node process's
	// highest RSS sample in the window (the other figures are sums).
	PeakMaxNodeRSSMB float64 `json:"peak_max_node_rss_mb,omitempty"`
	DiskMB           float64 `json:"disk_mb"` // all stores
	CPUUsPerDel      float64 `json:"cpu_us_per_delivery"`
}

// runSoak runs cfg.Soak of paced load at cfg.Rate on one cluster, in
// windows of cfg.SoakWindow, recording the state after each.
func runSoak(ctx context.Context, cfg *Config, res *Result, rng *rand.Rand, say func(string, ...any)) error {
	say("soak: starting %d Parley nodes%s", cfg.Nodes, procsNote(cfg.Procs))
	pc, _, err := startParley(ctx, cfg, rng)
	if err != nil {
		return err
	}
	defer pc.close()
	m := meterOf(pc)
	n := pc.size()
	if _, err := paced(ctx, pc, cfg.Senders, 50, time.Duration(float64(time.Second)*float64(2*n)/50), cfg.MsgSize, 5*time.Second); err != nil {
		return fmt.Errorf("soak warm-up: %w", err)
	}
	s := &Soak{Nodes: n, Rate: cfg.Rate, MsgSize: cfg.MsgSize}
	res.Soak = s
	disk0 := du(cfg.Dir)
	t0 := time.Now()
	stored := 0
	windows := int((cfg.Soak + cfg.SoakWindow - 1) / cfg.SoakWindow)
	for i := range windows {
		win := cfg.SoakWindow
		sampler := startSampler(m, time.Second)
		stopTrace := func() {}
		if LoadTrace != "" && i+1 == cfg.SoakTraceWindow {
			stopTrace = traceSystem(pc, LoadTrace)
		}
		r, err := paced(ctx, pc, cfg.Senders, cfg.Rate, win, cfg.MsgSize, cfg.Drain)
		stopTrace()
		peak, _ := sampler.Stop()
		if err != nil {
			return fmt.Errorf("soak window: %w", err)
		}
		sum := summarize(r, 0)
		stored += r.Sent
		now := m.read()
		w := SoakWindow{
			EndS: time.Since(t0).Seconds(), Sent: r.Sent, Lost: r.Lost,
			P50Ms: sum.AllMembers.P50, P99Ms: sum.AllMembers.P99,
			RSSMB: float64(now.rss) / mib, PeakRSSMB: float64(peak) / mib, HeapMB: float64(now.heap) / mib,
			AnonMB: float64(now.anon) / mib, PeakAnonMB: float64(sampler.PeakAnon()) / mib,
			Goroutines: now.goroutines, DiskMB: float64(du(cfg.Dir)) / mib, CPUUsPerDel: sum.CPUPerMsgUs,
		}
		if cfg.Procs {
			w.PeakMaxNodeRSSMB = float64(sampler.peakMaxRSS) / mib
		}
		s.Windows = append(s.Windows, w)
		say("soak %4.0fs: p50 %.1f ms, p99 %.1f ms, lost %d, RSS %.1f MB (peak %.1f; anonymous %.1f, peak %.1f), %d goroutines, disk %.1f MB",
			w.EndS, w.P50Ms, w.P99Ms, w.Lost, w.RSSMB, w.PeakRSSMB, w.AnonMB, w.PeakAnonMB, w.Goroutines, w.DiskMB)
	}
	if stored > 0 && !cfg.InMemory {
		s.DiskBytesPerMsg = float64(du(cfg.Dir)-disk0) / float64(stored*n)
	}
	return nil
}

func writeSoak(b *strings.Builder, s *Soak, procs bool) {
	fmt.Fprintf(b, "### Soak: %d nodes, %d-byte messages at %.0f msgs/s\n\n", s.Nodes, s.MsgSize, s.Rate)
	if procs {
		b.WriteString("Each node is a process of its own: figures are the node processes' sums at the end of each window, and the largest node process's peak RSS; disk is all stores together. ")
	} else {
		b.WriteString("Process figures (all nodes in one process) at the end of each window; disk is all stores together. ")
	}
	b.WriteString("Anonymous RSS is what the program holds; the rest of RSS is file pages, mostly Badger's memory-mapped tables, which grow with the stores and which the kernel drops under pressure.\n\n")
	b.WriteString("| end s | sent | lost | p50 ms | p99 ms | CPU us/delivery | RSS MB (peak) | anonymous RSS MB (peak) | heap MB | goroutines | disk MB |")
	if procs {
		b.WriteString(" largest node's peak RSS MB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		b.WriteString("\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	}
	for _, w := range s.Windows {
		fmt.Fprintf(b, "| %.0f | %d | %d | %.2f | %.2f | %.1f | %.1f (%.1f) | %.1f (%.1f) | %.1f | %d | %.1f |",
			w.EndS, w.Sent, w.Lost, w.P50Ms, w.P99Ms, w.CPUUsPerDel, w.RSSMB, w.PeakRSSMB, w.AnonMB, w.PeakAnonMB, w.HeapMB, w.Goroutines, w.DiskMB)
		if procs {
			fmt.Fprintf(b, " %.1f |", w.PeakMaxNodeRSSMB)
		}
		b.WriteString("\n")
	}
	if len(s.Windows) > 1 {
		f, l := s.Windows[0], s.Windows[len(s.Windows)-1]
		fmt.Fprintf(b, "\nFirst to last window: RSS %+.1f MB (anonymous %+.1f MB), goroutines %+d, heap %+.1f MB. ", l.RSSMB-f.RSSMB, l.AnonMB-f.AnonMB, l.Goroutines-f.Goroutines, l.HeapMB-f.HeapMB)
	}
	if s.DiskBytesPerMsg > 0 {
		fmt.Fprintf(b, "Disk growth: %.0f bytes per stored message (each stored on every node).", s.DiskBytesPerMsg)
	}
	b.WriteString("\n\n")
}

func du(dir string) int64 {
	n, _ := diskUsage(dir) // a file vanishing mid-walk (compaction) is not an error here
	return n
}
