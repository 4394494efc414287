//go:build linux

package p2p_test

// Helpers for tests that need network namespaces. Go switches network
// namespaces per OS thread, so a test never enters one itself: it creates
// namespaces with `ip` and re-executes its own binary inside them with
// `ip netns exec`. Anything that multicasts (mDNS) must run only there: the
// machine's own interfaces reach a real network.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const ipTimeout = 60 * time.Second

// requireNetnsAdmin skips the test unless it can create network namespaces:
// root and iproute2's `ip` on PATH. (A permission failure of `ip netns add`
// itself, as in an unprivileged container, is detected by newNetns.) With
// CI=true it fails instead: CI must run these tests (.ci/run runs as root
// and installs iproute2).
func requireNetnsAdmin(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		netnsUnavailable(t, "needs root to create network namespaces (ip netns)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		netnsUnavailable(t, "needs iproute2's `ip` on PATH to create network namespaces: %v", err)
	}
}

// netnsUnavailable skips the test with a reason, or fails it under CI=true.
func netnsUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but this network namespace test cannot run: %s", msg)
	}
	t.Skipf("skipped: %s (with CI=true this fails instead)", msg)
}

// uniqueName returns prefix-<pid>-<random>, unique across concurrent runs.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%04x", prefix, os.Getpid(), rand.IntN(1<<16))
}

// runIP runs `ip args...` with a bounded timeout and returns combined output.
func runIP(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// mustIP runs `ip args...` and fails the test on error.
func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if _, err := runIP(args...); err != nil {
		t.Fatal(err)
	}
}

// newNetns creates a network namespace named name, deleted in t.Cleanup
// (which also destroys every interface in it, veth peers included). It skips
// the test if the kernel or container refuses namespaces for lack of
// privilege, and returns the namespace's inode.
func newNetns(t *testing.T, name string) uint64 {
	t.Helper()
	out, err := runIP("netns", "add", name)
	if err != nil {
		if strings.Contains(out, "Operation not permitted") || strings.Contains(out, "Permission denied") {
			netnsUnavailable(t, "cannot create network namespaces here (no CAP_SYS_ADMIN?): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := runIP("netns", "del", name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ino, err := netnsInode(name)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

// netnsInode returns the inode of a named namespace's bind mount.
func netnsInode(name string) (uint64, error) {
	var firstErr error
	for _, dir := range []string{"/run/netns/", "/var/run/netns/"} {
		ino, err := fileInode(dir + name)
		if err == nil {
			return ino, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return 0, firstErr
}

// selfNetnsInode returns the inode of this process's network namespace.
func selfNetnsInode() (uint64, error) { return fileInode("/proc/self/ns/net") }

func fileInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no inode", path)
	}
	return st.Ino, nil
}

// requireInNetns fails unless this process runs in the namespace whose inode
// is in env var expectVar and not in the one whose inode is in rootVar: the
// guard that keeps multicast off the machine's real network.
func requireInNetns(t *testing.T, expectVar, rootVar string) {
	t.Helper()
	self, err := selfNetnsInode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := strconv.ParseUint(os.Getenv(expectVar), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", expectVar, err)
	}
	root, err := strconv.ParseUint(os.Getenv(rootVar), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", rootVar, err)
	}
	if self == root || self != want {
		t.Fatalf("refusing to run: network namespace inode %d, want %d (the parent's is %d)", self, want, root)
	}
}

// helperProcess is the test binary re-executed in a namespace.
type helperProcess struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *markerBuffer
	errb  bytes.Buffer
	done  chan struct{} // closed when the process has exited
	err   error         // valid after done
}

// startHelper runs `ip netns exec ns <this test binary> -test.run ^run$`
// with env added to the environment. Its stdin stays open until closeStdin,
// so a helper can wait for the parent's go-ahead to exit. marker is the
// output line prefix that markerBuffer reports.
func startHelper(ctx context.Context, t *testing.T, name, ns, run string, env []string, marker string) *helperProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, exe,
		"-test.run", "^"+run+"$", "-test.v", "-test.count=1", "-test.timeout=90s")
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	p := &helperProcess{name: name, cmd: cmd, out: newMarkerBuffer(marker), done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = &p.errb
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}

// closeStdin tells the helper it may exit.
func (p *helperProcess) closeStdin() {
	p.stdin.Close()
}

// output returns everything the helper wrote, for failure reports.
func (p *helperProcess) output() string {
	return fmt.Sprintf("--- %s stdout ---\n%s--- %s stderr ---\n%s", p.name, p.out.String(), p.name, p.errb.String())
}

// markerBuffer collects output and signals once a line with the marker prefix
// has been written.
type markerBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newMarkerBuffer(marker string) *markerBuffer {
	return &markerBuffer{marker: marker, seen: make(chan struct{})}
}

func (b *markerBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, _ := b.buf.Write(p)
	if strings.HasPrefix(b.buf.String(), b.marker) || strings.Contains(b.buf.String(), "\n"+b.marker) {
		b.once.Do(func() { close(b.seen) })
	}
	return n, nil
}

func (b *markerBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
