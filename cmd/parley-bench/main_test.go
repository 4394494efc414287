package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every flag of the former `parley bench` is still there.
func TestHelpListsFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"nodes", "degree", "size", "rate", "duration", "senders", "sizes", "skip-throughput",
		"step", "steps", "max-rate", "drain", "catchup", "skip-catchup", "idle-nodes", "idle-window", "mem", "net",
		"skip-baseline", "skip-latency", "out", "json", "png", "cpuprofile", "memprofile", "blockprofile", "log-level",
		"repeats", "p99-bound", "growth", "growth-nodes", "growth-history", "load-cpuprofile", "load-trace", "load-heapprofile", "soak-trace-window"} {
		if !strings.Contains(out.String(), "--"+f+" ") {
			t.Errorf("--help does not list --%s", f)
		}
	}
}

func TestBadArgumentsFail(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nodes", "1"}, {"--net", "udp"}, {"--log-level", "loud"}} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--out", t.TempDir()), &out, &errb); code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		} else if !strings.HasPrefix(errb.String(), "parley-bench: ") {
			t.Errorf("%v: stderr %q, want a parley-bench: error", args, errb.String())
		}
	}
}

// A tiny run end to end: a Markdown table on stdout, the JSON and the PNG
// under --out.
func TestTinyRunWritesOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--nodes", "2", "--rate", "20", "--duration", "500ms", "--drain", "5s",
		"--skip-throughput", "--skip-catchup", "--mem", "--net", "mocknet", "--idle-window", "100ms",
		"--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "|") {
		t.Errorf("stdout has no Markdown table:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Nodes int }
	if err := json.Unmarshal(b, &res); err != nil || res.Nodes != 2 {
		t.Errorf("bench.json: nodes %d, err %v", res.Nodes, err)
	}
	png, err := os.ReadFile(filepath.Join(dir, "latency-cdf.png"))
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("latency-cdf.png missing or not a PNG (%v)", err)
	}
	for _, want := range []string{"raw figures: ", "latency CDF: "} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// Three repeated searches per system on mocknet: both throughput figures,
// as medians with their spread, next to the baseline's, in the JSON and
// the Markdown.
func TestTinyRepeatedThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--nodes", "2", "--skip-latency", "--skip-catchup", "--sizes", "256", "--repeats", "3",
		"--steps", "3", "--step", "200ms", "--max-rate", "40", "--drain", "5s", "--p99-bound", "2s",
		"--mem", "--net", "mocknet", "--idle-window", "100ms", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	type fig struct {
		Median, Min, Max float64
		Values           []float64
	}
	var res struct {
		Repeats    int     `json:"repeats"`
		P99BoundMs float64 `json:"p99_bound_ms"`
		Headline   float64 `json:"throughput_p99_bound_msgs_per_s"`
		Throughput []struct {
			Ours             float64 `json:"ours_msgs_per_s"`
			OursP99          float64 `json:"ours_p99_bound_msgs_per_s"`
			Baseline         float64 `json:"baseline_msgs_per_s"`
			Ratio            float64 `json:"ratio"`
			P99Ratio         float64 `json:"p99_bound_ratio"`
			OursZeroLoss     fig     `json:"ours_zero_loss"`
			OursP99Bound     fig     `json:"ours_p99_bound"`
			BaselineZeroLoss *fig    `json:"baseline_zero_loss"`
			BaselineP99Bound *fig    `json:"baseline_p99_bound"`
			OursSteps        []struct {
				Repeat int `json:"repeat"`
			} `json:"ours_steps"`
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Repeats != 3 || res.P99BoundMs != 2000 || len(res.Throughput) != 1 {
		t.Fatalf("repeats %d, bound %v ms, %d throughput sizes", res.Repeats, res.P99BoundMs, len(res.Throughput))
	}
	tp := res.Throughput[0]
	for name, f := range map[string]*fig{"ours zero loss": &tp.OursZeroLoss, "ours p99": &tp.OursP99Bound,
		"baseline zero loss": tp.BaselineZeroLoss, "baseline p99": tp.BaselineP99Bound} {
		if f == nil || len(f.Values) != 3 || f.Min > f.Median || f.Median > f.Max || f.Median <= 0 {
			t.Errorf("%s: %+v, want 3 positive values with min <= median <= max", name, f)
		}
	}
	if tp.Ours != tp.OursZeroLoss.Median || tp.OursP99 != tp.OursP99Bound.Median || res.Headline != tp.OursP99 {
		t.Errorf("flat figures are not the medians: %+v", tp)
	}
	if tp.Ratio == 0 || tp.P99Ratio == 0 || tp.Ratio != tp.Ours/tp.Baseline {
		t.Errorf("ratios %v, %v", tp.Ratio, tp.P99Ratio)
	}
	if last := tp.OursSteps[len(tp.OursSteps)-1]; last.Repeat != 3 {
		t.Errorf("last step is of repeat %d", last.Repeat)
	}
	for _, want := range []string{"median of 3 searches", "| 256 B | zero loss |", "| 256 B | p99 <= 2000 ms |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out.String())
		}
	}
}

// --growth with tiny sizes: one row per cluster size and per history size,
// disk bytes per stored message from on-disk stores.
func TestTinyGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--growth", "--growth-nodes", "2,3", "--growth-history", "20,40", "--rate", "20",
		"--duration", "500ms", "--drain", "5s", "--net", "mocknet", "--idle-window", "100ms", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Growth struct {
			Nodes []struct {
				Nodes    int
				Ours     struct{ Lost, Sent int }
				Baseline *struct{ Sent int }
				IdleRSS  float64 `json:"idle_rss_mb_per_node"`
			}
			History []struct {
				Missed          int
				Stored          int
				Seconds         float64
				RSSMB           float64 `json:"rss_mb"`
				DiskBytesPerMsg float64 `json:"disk_bytes_per_msg"`
			}
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	g := res.Growth
	if len(g.Nodes) != 2 || g.Nodes[0].Nodes != 2 || g.Nodes[1].Nodes != 3 {
		t.Fatalf("growth nodes: %+v", g.Nodes)
	}
	for _, n := range g.Nodes {
		if n.Ours.Sent != 10 || n.Ours.Lost != 0 || n.Baseline == nil || n.Baseline.Sent != 10 {
			t.Errorf("%d nodes: %+v", n.Nodes, n)
		}
	}
	if len(g.History) != 2 || g.History[1].Missed != 40 {
		t.Fatalf("growth history: %+v", g.History)
	}
	for _, h := range g.History {
		if h.Seconds <= 0 || h.Stored < h.Missed || h.RSSMB <= 0 || h.DiskBytesPerMsg <= 0 {
			t.Errorf("history %d: %+v", h.Missed, h)
		}
	}
	for _, want := range []string{"### Cost as the group grows", "### Cost as history grows", "disk bytes per stored message"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out.String())
		}
	}
}
