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
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
)

// rawProtocol is the baseline: the serving side writes the file's bytes.
const rawProtocol = "/parley-bench/raw/1.0.0"

// Result is one run's figures.
type Result struct {
	Size          int64
	RawSeconds    float64
	FileSeconds   float64
	RawMBps       float64
	FileMBps      float64
	Ratio         float64 // file / raw throughput
	FetchPeakRSS  int64   // bytes, VmHWM of the fetching process
	ServerPeakRSS int64   // bytes, VmHWM of the serving process
	Chunks        int
	// CPU seconds (user+system) of each side during each phase: on a
	// loaded machine the wall-clock ratio follows the CPU each side needs.
	RawCPUFetch, RawCPUServe, FileCPUFetch, FileCPUServe float64
}

func newNode(dir string, log *slog.Logger) (*node.Node, error) {
	return node.New(dir, node.WithLogger(log), node.WithAutoDownload(0),
		node.WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)))
}

// Child is the serving process: it creates a group, prints its invite, its
// peer address, then writes a file of size bytes from a PRNG, sends it and
// prints its id; it serves until stdin closes.
// With cpuProfile set, the serving phase is profiled into it.
func Child(ctx context.Context, dir string, size int64, cpuProfile string, stdout io.Writer, log *slog.Logger) error {
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
	code, err := n.Invite(g.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CODE %s\nPEER %s %s\n", code, n.ID(), n.Host().ListenAddrs()[0])
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

// Run starts the child, joins its group, copies the file's bytes over a
// plain stream (baseline), then fetches it with /parley/file/1.0.0. With
// cpuProfile set, the fetch is profiled into it and the child's serving
// into cpuProfile+".serve".
func Run(ctx context.Context, size int64, cpuProfile string, progress io.Writer, log *slog.Logger) (Result, error) {
	res := Result{Size: size}
	dir, err := os.MkdirTemp("", "parley-filebench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	args := []string{"--files-child", dir, "--files", strconv.FormatInt(size, 10)}
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
	code, err := field("CODE")
	if err != nil {
		return res, err
	}
	pf, err := field("PEER")
	if err != nil {
		return res, err
	}
	n, err := newNode(filepath.Join(dir, "client"), log)
	if err != nil {
		return res, err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
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
	if err := n.Host().Connect(ctx, peer.AddrInfo{ID: pid, Addrs: []ma.Multiaddr{addr}}, p2p.SourceDirect); err != nil {
		return res, err
	}
	if _, err := n.Join(ctx, code[0]); err != nil {
		return res, err
	}
	ff, err := field("FILE")
	if err != nil {
		return res, err
	}
	gid, id := ff[0], ff[1]
	fmt.Fprintf(progress, "file sent by the child; waiting for the announcement\n")
	for deadline := time.Now().Add(time.Minute); ; {
		if fs, _ := n.Files(gid); len(fs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("announcement never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Baseline: the same bytes over a plain libp2p stream, written to disk
	// on this side (no fsync, no encryption, no proofs).
	fmt.Fprintf(progress, "plain stream copy of %d bytes\n", size)
	c0, s0 := cpuSeconds(os.Getpid()), cpuSeconds(child.Process.Pid)
	t0 := time.Now()
	s, err := n.Host().Libp2p().NewStream(ctx, pid, rawProtocol)
	if err != nil {
		return res, err
	}
	sink, err := os.Create(filepath.Join(dir, "raw.bin"))
	if err != nil {
		return res, err
	}
	got, err := io.Copy(sink, s)
	sink.Close()
	s.Close()
	os.Remove(sink.Name())
	if err != nil || got != size {
		return res, fmt.Errorf("raw copy: %d bytes, %v", got, err)
	}
	res.RawSeconds = time.Since(t0).Seconds()
	c1, s1 := cpuSeconds(os.Getpid()), cpuSeconds(child.Process.Pid)
	res.RawCPUFetch, res.RawCPUServe = c1-c0, s1-s0

	fmt.Fprintf(progress, "file fetch of %d bytes\n", size)
	stop, err := startProfile(cpuProfile)
	if err != nil {
		return res, err
	}
	c1, s1 = cpuSeconds(os.Getpid()), cpuSeconds(child.Process.Pid)
	t0 = time.Now()
	err = n.FetchFile(ctx, gid, id)
	res.FileSeconds = time.Since(t0).Seconds()
	res.FileCPUFetch, res.FileCPUServe = cpuSeconds(os.Getpid())-c1, cpuSeconds(child.Process.Pid)-s1
	stop()
	if err != nil {
		return res, err
	}
	fs, _ := n.Files(gid)
	if len(fs) > 0 {
		res.Chunks = fs[0].Fetched
	}
	res.RawMBps = float64(size) / 1e6 / res.RawSeconds
	res.FileMBps = float64(size) / 1e6 / res.FileSeconds
	res.Ratio = res.FileMBps / res.RawMBps
	res.FetchPeakRSS = peakRSS(os.Getpid())
	res.ServerPeakRSS = peakRSS(child.Process.Pid)
	return res, nil
}

// startProfile starts a CPU profile into path (nothing when empty).
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
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
	fmt.Fprintf(w, "## File transfer, two processes on loopback (%.0f MiB, %d chunks)\n\n", float64(r.Size)/(1<<20), r.Chunks)
	fmt.Fprintf(w, "| | seconds | MB/s |\n|---|---|---|\n")
	fmt.Fprintf(w, "| plain libp2p stream | %.2f | %.0f |\n", r.RawSeconds, r.RawMBps)
	fmt.Fprintf(w, "| /parley/file/1.0.0 fetch | %.2f | %.0f |\n\n", r.FileSeconds, r.FileMBps)
	fmt.Fprintf(w, "Ratio (file / plain): %.2f (target >= 0.8)\n\n", r.Ratio)
	fmt.Fprintf(w, "CPU seconds (user+system): plain copy %.2f fetching + %.2f serving; file fetch %.2f fetching + %.2f serving\n\n",
		r.RawCPUFetch, r.RawCPUServe, r.FileCPUFetch, r.FileCPUServe)
	fmt.Fprintf(w, "Peak RSS (VmHWM): fetching process %.1f MB, serving process %.1f MB (target < 100 MB)\n",
		float64(r.FetchPeakRSS)/1e6, float64(r.ServerPeakRSS)/1e6)
}
