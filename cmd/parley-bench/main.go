package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/bench"
	"github.com/parley-chat/parley/node"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes the command with args (without the program name) and returns
// the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := benchCmd(stdout, stderr)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "parley-bench:", err)
		return 1
	}
	return 0
}

func benchCmd(stdout, stderr io.Writer) *cobra.Command {
	d := bench.Defaults()
	cfg := d
	var outDir, jsonPath, pngPath, cpuProfile, memProfile, blockProfile, logLevel string
	var sendLinger time.Duration
	var noCatchUp, noThroughput bool
	var filesSize, filesChild string // files.go
	var nodeChild bool               // --procs: this process is one node (bench/child.go)
	var filesRounds int
	var searchCfg bench.SearchConfig // --search (search_cmd.go)
	cmd := &cobra.Command{
		Use:           "parley-bench",
		Short:         "Measure latency, throughput, catch-up and memory of N nodes in one process, against raw GossipSub",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `Start N Parley nodes in this process on loopback (or libp2p's mocknet), put
them in one group and measure: delivery latency from send to stored and
visible on every member (p50/p90/p99/max) at --rate; for each --sizes two
throughput figures, the highest zero-loss rate and the highest rate with p99
to all members within --p99-bound, each the median (and min-max) of
--repeats independent searches; the time a member back from offline takes to get
--catchup missed messages; memory per node idle and under load, and CPU per
delivered message. The latency and throughput runs are repeated on a raw
GossipSub baseline (same N, topology and pubsub options; no encryption, no
store) and the ratio is printed; --signed-baseline repeats them a third time
on GossipSub that signs and checks every message, the floor for any design
that authenticates authors. mDNS is never used; only 127.0.0.1.

Writes a Markdown table to stdout, the raw figures to --json and a latency
CDF to --png (both under --out by default). With the default three repeats
a run takes about ten minutes on an idle 2-core machine; --repeats 1 is the
quick look (about three). A figure is only worth quoting from an idle machine:
the report warns when the load average exceeded the CPU count.

--growth replaces all of that with the cost-as-work-grows tables: latency
(p50/p99 to all members), CPU per delivery and memory per node for each
--growth-nodes cluster size at --rate, and catch-up time, memory and disk
bytes per stored message for each --growth-history size. Examples:

  go run ./cmd/parley-bench
  go run ./cmd/parley-bench --nodes 20 --rate 100 --sizes '' --catchup 0
  go run ./cmd/parley-bench --nodes 5 --sizes 256 --skip-latency --catchup 0
  go run ./cmd/parley-bench --catchup 100000 --nodes 2 --sizes '' --skip-latency
  go run ./cmd/parley-bench --idle-nodes 100 --sizes '' --skip-latency --catchup 0
  go run ./cmd/parley-bench --skip-latency --catchup 0 --sizes 256 --repeats 5
  go run ./cmd/parley-bench --growth
  go run ./cmd/parley-bench --growth --growth-nodes 5,20 --growth-history 10000
  go run ./cmd/parley-bench --search 1000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodeChild {
				return bench.ServeChild(os.Stdin, os.Stdout)
			}
			lvl := slog.LevelError
			if logLevel != "" {
				if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
					return fmt.Errorf("--log-level: %w", err)
				}
			}
			if searchCfg.Messages > 0 {
				return runSearch(cmd.Context(), searchCfg, searchJSONPath(outDir, jsonPath), stdout, stderr)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
			cfg.LogLevel = lvl.String()
			if filesSize != "" {
				return runFiles(cmd.Context(), filesSize, filesChild, filesRounds, cpuProfile, stdout, stderr, cfg.Logger)
			}
			cfg.Progress = stderr
			cfg.SendLinger = sendLinger
			if sendLinger <= 0 {
				cfg.SendLinger = -1 // none
			}
			if noCatchUp {
				cfg.CatchUp = nil
			}
			if noThroughput {
				cfg.ThroughputSizes = nil
			}
			if jsonPath == "" {
				jsonPath = filepath.Join(outDir, "bench.json")
			}
			if pngPath == "" {
				pngPath = filepath.Join(outDir, "latency-cdf.png")
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if blockProfile != "" {
				runtime.SetBlockProfileRate(int(10 * time.Microsecond))
				runtime.SetMutexProfileFraction(10)
			}
			res, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if blockProfile != "" {
				if err := writeProfile("block", blockProfile); err != nil {
					return err
				}
				if err := writeProfile("mutex", blockProfile+".mutex"); err != nil {
					return err
				}
			}
			if memProfile != "" {
				if err := writeProfile("allocs", memProfile); err != nil {
					return err
				}
			}
			res.WriteMarkdown(stdout)
			if err := res.WriteJSON(jsonPath); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "raw figures: %s\n", jsonPath)
			if res.Latency != nil {
				if err := res.WritePNG(pngPath); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "latency CDF: %s\n", pngPath)
			}
			return nil
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", d.Nodes, "number of nodes (N) for the latency and throughput runs")
	f.IntVar(&cfg.Degree, "degree", d.Degree, "peers each node dials (full mesh when nodes <= degree+1)")
	f.IntVar(&cfg.MsgSize, "size", d.MsgSize, "message size in bytes for the latency run")
	f.Float64Var(&cfg.Rate, "rate", d.Rate, "send rate for the latency run, messages/s over all senders")
	f.DurationVar(&cfg.Duration, "duration", d.Duration, "length of the latency run")
	f.IntVar(&cfg.Senders, "senders", 0, "how many nodes send (default: all)")
	f.Var(&intList{&cfg.ThroughputSizes}, "sizes", "message sizes for the throughput search (empty: skip)")
	f.BoolVar(&noThroughput, "skip-throughput", false, "skip the throughput search")
	f.DurationVar(&cfg.StepDuration, "step", d.StepDuration, "length of one throughput step")
	f.IntVar(&cfg.MaxSteps, "steps", d.MaxSteps, "throughput steps per search (one size, one system, one repeat)")
	f.IntVar(&cfg.Repeats, "repeats", d.Repeats, "throughput searches per size and system: median and min-max are reported")
	f.DurationVar(&cfg.P99Bound, "p99-bound", d.P99Bound, "second throughput figure: highest rate with p99 to all members at most this")
	f.BoolVar(&cfg.Growth, "growth", false, "instead of the standard runs, measure how costs grow with --growth-nodes and --growth-history")
	f.IntSliceVar(&cfg.GrowthNodes, "growth-nodes", d.GrowthNodes, "cluster sizes for --growth (latency run at --rate each)")
	f.DurationVar(&sendLinger, "send-linger", node.DefaultSendLinger, "each Parley node's send linger: how long a node sending in bulk holds each batch open for more (0: none)")
	f.Int64Var(&cfg.NodeMemoryLimit, "node-memory-limit", node.DefaultMemoryLimit, "Go soft memory limit per Parley node, as parley daemon sets by default (the process gets N times it; 0: none)")
	f.DurationVar(&cfg.Soak, "soak", 0, "instead of the standard runs, a soak: paced load at --rate on --nodes for this long (e.g. 30m), RSS, goroutines and disk after each --soak-window")
	f.DurationVar(&cfg.SoakWindow, "soak-window", time.Minute, "window of the soak")
	f.IntVar(&cfg.SoakTraceWindow, "soak-trace-window", 0, "with --soak and --load-trace FILE: trace this window of the soak (from 1), e.g. a compaction minute")
	f.IntSliceVar(&cfg.GrowthHistory, "growth-history", d.GrowthHistory, "history sizes for --growth (catch-up run each)")
	f.Float64Var(&cfg.MaxRate, "max-rate", d.MaxRate, "highest rate the throughput search tries")
	f.DurationVar(&cfg.Drain, "drain", d.Drain, "how long to wait for late deliveries after sending")
	f.IntSliceVar(&cfg.CatchUp, "catchup", d.CatchUp, "missed-message counts for the catch-up runs (0: skip)")
	f.BoolVar(&noCatchUp, "skip-catchup", false, "skip the catch-up runs")
	f.StringVar(&cfg.CatchUpProfile, "catchup-cpuprofile", "", "write a CPU profile of each catch-up's timed part to FILE.N (N: the message count)")
	f.StringVar(&cfg.CatchUpHeapProfile, "catchup-heapprofile", "", "write a heap profile (live objects) of the receiver alone after each catch-up to FILE.N")
	f.IntVar(&cfg.IdleNodes, "idle-nodes", 0, "also start this many idle nodes in one group and measure memory per node")
	f.DurationVar(&cfg.IdleWindow, "idle-window", d.IdleWindow, "how long idle memory and CPU are observed")
	f.IntVar(&cfg.Actions, "actions", 0, "after each text, also send this many reactions and poll votes (alternating): their cost on the figures")
	f.BoolVar(&cfg.InMemory, "mem", false, "in-memory stores instead of Badger on disk (no fsync)")
	f.StringVar(&cfg.Net, "net", d.Net, "network: tcp (loopback) or mocknet")
	f.StringVar(&cfg.Text, "text", bench.TextRepeat, "what messages say: repeat (one phrase, the same for all: compresses to almost nothing) or words (each message its own words, compresses like chat text)")
	f.BoolVar(&cfg.SkipBaseline, "skip-baseline", false, "do not run the raw GossipSub baseline")
	f.BoolVar(&cfg.SignedBaseline, "signed-baseline", false, "also run the latency and throughput runs on GossipSub that signs every message and checks it at every hop (StrictSign): the floor for any design that authenticates authors")
	f.BoolVar(&cfg.SkipLatency, "skip-latency", false, "skip the latency run")
	f.StringVar(&outDir, "out", "bench-results", "directory for the JSON and PNG files")
	f.StringVar(&jsonPath, "json", "", "write the raw figures here (default OUT/bench.json)")
	f.StringVar(&pngPath, "png", "", "write the latency CDF here (default OUT/latency-cdf.png)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (go tool pprof)")
	f.StringVar(&bench.LoadProfile, "load-cpuprofile", "", "write a CPU profile of the first paced load run only (no set-up); the baseline's to FILE.raw")
	f.StringVar(&bench.LoadHeapProfile, "load-heapprofile", "", "write a heap profile (live objects) when Parley's first paced load run stops sending")
	f.StringVar(&bench.LoadTrace, "load-trace", "", "write an execution trace (go tool trace) of Parley's first paced load run only")
	f.StringVar(&memProfile, "memprofile", "", "write an allocation profile at the end")
	f.StringVar(&blockProfile, "blockprofile", "", "write a blocking profile (and FILE.mutex, a mutex profile) at the end")
	f.StringVar(&logLevel, "log-level", "", "node log level: debug, info, warn, error (default error)")
	f.StringVar(&filesSize, "files", "", "instead of the standard runs, measure a file transfer of this size (e.g. 1GiB) between two processes")
	f.IntVar(&filesRounds, "files-rounds", 3, "--files: rounds of plain copy and fetch, interleaved (a fresh fetching node each); the median ratio is reported")
	f.StringVar(&filesChild, "files-child", "", "internal: run the serving side of --files in this directory")
	f.MarkHidden("files-child")
	f.BoolVar(&cfg.Procs, "procs", false, "run every node of the latency, throughput, growth and soak runs (Parley's and the baseline's) in a process of its own, as on users' machines")
	f.BoolVar(&nodeChild, "node-child", false, "internal: be one node process of a --procs run, driven over stdin and stdout")
	f.MarkHidden("node-child")
	f.IntVar(&searchCfg.Messages, "search", 0, "instead of the standard runs, build a store of this many messages and time two-word searches")
	f.IntVar(&searchCfg.Queries, "search-queries", 1000, "timed queries for --search")
	return cmd
}

// writeProfile writes the named runtime/pprof profile to path.
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// intList is a comma-separated int list flag that also takes "" (an empty
// list): pflag's IntSlice refuses an empty --sizes.
type intList struct{ v *[]int }

func (l *intList) String() string {
	if l.v == nil {
		return ""
	}
	parts := make([]string, len(*l.v))
	for i, n := range *l.v {
		parts[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (l *intList) Set(s string) error {
	*l.v = nil
	for _, part := range strings.Split(strings.Trim(s, "[]"), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return err
		}
		*l.v = append(*l.v, n)
	}
	return nil
}

func (l *intList) Type() string { return "ints" }
