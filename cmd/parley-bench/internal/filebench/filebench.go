package filebench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/hostcpu"
	"github.com/parley-chat/parley/cmd/parley-bench/internal/prof"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
)

// rawProtocol is the baseline: the serving side writes the file's bytes.
const rawProtocol = "/parley-bench/raw/1.0.0"

// Round is one plain copy and one fetch, each of the whole file, by a
// fresh fetching node.
type Round struct {
	RawFirst    bool // the plain copy ran before the fetch (rounds alternate)
	RawSeconds  float64
	FileSeconds float64
	RawMBps     float64
	FileMBps    float64
	Ratio       float64 // file / raw throughput
	Chunks      int
	// Peak RSS (VmHWM, reset when the round starts) of each side, bytes.
	FetchPeakRSS, ServerPeakRSS int64
	// CPU seconds (user+system) of each side during each phase: on a
	// loaded machine the wall-clock ratio follows the CPU each side needs.
	RawCPUFetch, RawCPUServe, FileCPUFetch, FileCPUServe float64
	// Machine CPU time the hypervisor gave to other guests during each
	// phase, %: a ratio of two phases with unlike steal is not a measure.
	RawStealPct, FileStealPct float64
}

// Result is one run's figures.
type Result struct {
	Size          int64
	Rounds        []Round
	Ratio         float64 // the median of the rounds' ratios
	FetchPeakRSS  int64   // bytes, the rounds' highest VmHWM of the fetching process
	ServerPeakRSS int64   // bytes, the same of the serving process
	// Load averages (/proc/loadavg: 1, 5, 15 min) before and after: the
	// machine may be shared.
	LoadBefore, LoadAfter string
	StealPct              float64 // over the whole run, %
}

func newNode(dir string, log *slog.Logger) (*node.Node, error) {
	return node.New(dir, node.WithLogger(log), node.WithAutoDownload(0),
		node.WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)))
}

// Child is the serving process: it creates a group, prints an invite per
// round, its peer address, then writes a file of size bytes from a PRNG,
// sends it and prints its id; it serves until stdin closes.
// With cpuProfile set, the serving phase is profiled into it.
func Child(ctx context.Context, dir string, size int64, rounds int, cpuProfile string, stdout io.Writer, log *slog.Logger) error {
	n, err := newNode(filepath.Join(dir, "server"), log)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	path := filepath.Join(dir, "data.bin")
	if err := writeRandom(path, size); err != nil {
		return err
	}
	h := n.Host().Libp2p()
	h.SetStreamHandler(rawProtocol, func(s network.Stream) {
		defer s.Close()
		f, err := os.Open(path)
		if err != nil {
			s.Reset()
			return
		}
		defer f.Close()
		io.Copy(s, f)
	})
	g, err := n.CreateGroup(ctx, "bench", false)
	if err != nil {
		return err
	}
	var codes []string
	for range max(rounds, 1) {
		code, err := n.Invite(g.ID)
		if err != nil {
			return err
		}
		codes = append(codes, code)
	}
	fmt.Fprintf(stdout, "CODE %s\nPEER %s %s\n", strings.Join(codes, " "), n.ID(), n.Host().ListenAddrs()[0])
	m, err := n.SendFile(ctx, g.ID, path)
	if err != nil {
		return err
	}
	stop, err := startProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "FILE %s %s\n", g.ID, m.ID)
	io.Copy(io.Discard, os.Stdin) // until the parent is done
	return nil
}

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(7, 11))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Run starts the child, then runs rounds: in each a fresh node joins the
// child's group, copies the file's bytes over a plain stream (baseline) and
// fetches it with /parley/file/1.0.0, in alternating order so drift in the
// machine's load favours neither. With cpuProfile set, the first round's
// fetch is profiled into it and the child's serving into cpuProfile+".serve".
func Run(ctx context.Context, size int64, rounds int, cpuProfile string, progress io.Writer, log *slog.Logger) (Result, error) {
	rounds = max(rounds, 1)
	res := Result{Size: size, LoadBefore: hostcpu.LoadAvgs()}
	host0 := hostcpu.Read()
	dir, err := os.MkdirTemp("", "parley-filebench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	args := []string{"--files-child", dir, "--files", strconv.FormatInt(size, 10), "--files-rounds", strconv.Itoa(rounds)}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile+".serve")
	}
	child := exec.CommandContext(ctx, exe, args...)
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return res, err
	}
	defer func() { stdin.Close(); child.Wait() }()
	lines := bufio.NewScanner(out)
	field := func(key string) ([]string, error) {
		for lines.Scan() {
			if f := strings.Fields(lines.Text()); len(f) > 0 && f[0] == key {
				return f[1:], nil
			}
		}
		return nil, fmt.Errorf("child ended before %s: %v", key, lines.Err())
	}
	codes, err := field("CODE")
	if err != nil {
		return res, err
	}
	pf, err := field("PEER")
	if err != nil {
		return res, err
	}
	pid, err := peer.Decode(pf[0])
	if err != nil {
		return res, err
	}
	addr, err := ma.NewMultiaddr(pf[1])
	if err != nil {
		return res, err
	}
	fmt.Fprintf(progress, "child writing and sending %d bytes\n", size)
	ff, err := field("FILE")
	if err != nil {
		return res, err
	}
	srv := server{pid: pid, addr: addr, proc: child.Process.Pid, gid: ff[0], id: ff[1]}
	for r := range rounds {
		prof := ""
		if r == 0 {
			prof = cpuProfile
		}
		rd, err := srv.round(ctx, filepath.Join(dir, fmt.Sprintf("client%d", r)), codes[r%len(codes)], r%2 == 0, size, prof, progress, log)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", r+1, err)
		}
		fmt.Fprintf(progress, "round %d: plain %.0f MB/s, fetch %.0f MB/s, ratio %.2f\n", r+1, rd.RawMBps, rd.FileMBps, rd.Ratio)
		res.Rounds = append(res.Rounds, rd)
		res.FetchPeakRSS, res.ServerPeakRSS = max(res.FetchPeakRSS, rd.FetchPeakRSS), max(res.ServerPeakRSS, rd.ServerPeakRSS)
	}
	ratios := make([]float64, len(res.Rounds))
	for i, rd := range res.Rounds {
		ratios[i] = rd.Ratio
	}
	slices.Sort(ratios)
	res.Ratio = ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		res.Ratio = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
	}
	res.LoadAfter, res.StealPct = hostcpu.LoadAvgs(), hostcpu.StealPercent(host0, hostcpu.Read())
	return res, nil
}

// server is the child as a round sees it.
type server struct {
	pid     peer.ID
	addr    ma.Multiaddr
	proc    int
	gid, id string
}

// round joins a fresh node (profile in dir, removed after) and measures.
func (sv server) round(ctx context.Context, dir, code string, rawFirst bool, size int64, cpuProfile string, progress io.Writer, log *slog.Logger) (Round, error) {
	rd := Round{RawFirst: rawFirst}
	defer os.RemoveAll(dir)
	// Each round's peak on its own: what earlier rounds' nodes left in
	// the heap goes back to the OS, and both peaks are reset.
	debug.FreeOSMemory()
	resetPeakRSS(os.Getpid())
	resetPeakRSS(sv.proc)
	n, err := newNode(dir, log)
	if err != nil {
		return rd, err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return rd, err
	}
	if err := n.Host().Connect(ctx, peer.AddrInfo{ID: sv.pid, Addrs: []ma.Multiaddr{sv.addr}}, p2p.SourceDirect); err != nil {
		return rd, err
	}
	if _, err := n.Join(ctx, code); err != nil {
		return rd, err
	}
	for deadline := time.Now().Add(time.Minute); ; {
		if fs, _ := n.Files(sv.gid); len(fs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return rd, fmt.Errorf("announcement never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw := func() error {
		// The same bytes over a plain libp2p stream on the same connection,
		// written to disk on this side (no fsync, no encryption, no proofs).
		c0, s0 := cpuSeconds(os.Getpid()), cpuSeconds(sv.proc)
		t0, h0 := time.Now(), hostcpu.Read()
		s, err := n.Host().Libp2p().NewStream(ctx, sv.pid, rawProtocol)
		if err != nil {
			return err
		}
		sink, err := os.Create(filepath.Join(dir, "raw.bin"))
		if err != nil {
			return err
		}
		got, err := io.Copy(sink, s)
		sink.Close()
		s.Close()
		os.Remove(sink.Name())
		if err != nil || got != size {
			return fmt.Errorf("raw copy: %d bytes, %v", got, err)
		}
		rd.RawSeconds = time.Since(t0).Seconds()
		rd.RawCPUFetch, rd.RawCPUServe = cpuSeconds(os.Getpid())-c0, cpuSeconds(sv.proc)-s0
		rd.RawStealPct = hostcpu.StealPercent(h0, hostcpu.Read())
		return nil
	}
	fetch := func() error {
		stop, err := startProfile(cpuProfile)
		if err != nil {
			return err
		}
		c0, s0 := cpuSeconds(os.Getpid()), cpuSeconds(sv.proc)
		t0, h0 := time.Now(), hostcpu.Read()
		err = n.FetchFile(ctx, sv.gid, sv.id)
		rd.FileSeconds = time.Since(t0).Seconds()
		rd.FileCPUFetch, rd.FileCPUServe = cpuSeconds(os.Getpid())-c0, cpuSeconds(sv.proc)-s0
		rd.FileStealPct = hostcpu.StealPercent(h0, hostcpu.Read())
		stop()
		if err != nil {
			return err
		}
		if fs, _ := n.Files(sv.gid); len(fs) > 0 {
			rd.Chunks = fs[0].Fetched
		}
		return nil
	}
	steps := []func() error{raw, fetch}
	if !rawFirst {
		steps[0], steps[1] = fetch, raw
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return rd, err
		}
	}
	rd.FetchPeakRSS, rd.ServerPeakRSS = peakRSS(os.Getpid()), peakRSS(sv.proc)
	rd.RawMBps = float64(size) / 1e6 / rd.RawSeconds
	rd.FileMBps = float64(size) / 1e6 / rd.FileSeconds
	rd.Ratio = rd.FileMBps / rd.RawMBps
	return rd, nil
}

// startProfile starts a CPU profile into path (nothing when empty).
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	return prof.StartCPU(path)
}

// cpuSeconds is a process's user+system CPU time from /proc, -1 if unknown.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // fields from 3 on
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks (USER_HZ, 100 on Linux)
}

// resetPeakRSS resets a process's VmHWM to its current RSS (Linux 4.0+).
func resetPeakRSS(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSS is a process's VmHWM (peak resident set) in bytes, -1 if unknown.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// WriteMarkdown prints the figures.
func (r Result) WriteMarkdown(w io.Writer) {
	chunks := 0
	if len(r.Rounds) > 0 {
		chunks = r.Rounds[0].Chunks
	}
	fmt.Fprintf(w, "## File transfer, two processes on loopback (%.0f MiB, %d chunks, %d rounds)\n\n", float64(r.Size)/(1<<20), chunks, len(r.Rounds))
	fmt.Fprintf(w, "Load average (1, 5, 15 min): %s before, %s after; CPU steal over the run: %.1f%%\n\n", r.LoadBefore, r.LoadAfter, r.StealPct)
	if r.StealPct > hostcpu.StealWarnPercent {
		fmt.Fprintf(w, "**Warning:** the hypervisor gave %.0f%% of this machine's CPU time to other guests: throughput is pessimistic, and a round's ratio only holds where its two phases saw alike steal.\n\n", r.StealPct)
	}
	fmt.Fprintf(w, "| round | first | plain stream MB/s | fetch MB/s | ratio | CPU-s plain (fetch+serve) | CPU-s file (fetch+serve) | steal %% (plain, file) | peak RSS MB (fetch, serve) |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, rd := range r.Rounds {
		first := "fetch"
		if rd.RawFirst {
			first = "plain"
		}
		fmt.Fprintf(w, "| %d | %s | %.0f | %.0f | %.2f | %.2f + %.2f | %.2f + %.2f | %.0f, %.0f | %.1f, %.1f |\n", i+1, first, rd.RawMBps, rd.FileMBps, rd.Ratio,
			rd.RawCPUFetch, rd.RawCPUServe, rd.FileCPUFetch, rd.FileCPUServe, rd.RawStealPct, rd.FileStealPct, float64(rd.FetchPeakRSS)/1e6, float64(rd.ServerPeakRSS)/1e6)
	}
	fmt.Fprintf(w, "\nRatio (file / plain, median of the rounds): %.2f (target >= 0.8)\n\n", r.Ratio)
	fmt.Fprintf(w, "Peak RSS (VmHWM, highest round): fetching process %.1f MB, serving process %.1f MB (target < 100 MB)\n",
		float64(r.FetchPeakRSS)/1e6, float64(r.ServerPeakRSS)/1e6)
}
