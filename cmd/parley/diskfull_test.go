package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A full disk is an error, not a crash: with the profile on a small tmpfs
// this test mounts, filling it makes sends fail with "disk full" while the
// daemon keeps running and serving its history; status warns first; once
// space is freed, sends work again by themselves.
func TestDiskFullRefusesAndRecovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	bin := parleyBinary(t)
	home := t.TempDir()
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, "size=192m,mode=0700"); err != nil {
		t.Skip("cannot mount a tmpfs here:", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(home, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", home, err)
		}
	})
	d := startDaemon(t, bin, "alice", home)
	mustRun(t, bin, home, "group", "create", "Notes")
	mustRun(t, bin, home, "send", "Notes", "before the disk filled")

	filler := filepath.Join(home, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	fill := func(leave int64) {
		for {
			var st syscall.Statfs_t
			if err := syscall.Statfs(home, &st); err != nil {
				t.Fatal(err)
			}
			if int64(st.Bavail)*st.Bsize <= leave {
				return
			}
			if _, err := f.Write(chunk); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return
				}
				t.Fatal(err)
			}
		}
	}
	// Low: between the reserve (64 MiB) and twice it: a warning, writes go on.
	fill(100 << 20)
	poll(t, 10*time.Second, "status warns of low space", func() (bool, string) {
		r := run(t, bin, home, "status")
		return strings.Contains(r.stdout, "disk:     low"), r.stdout + r.stderr
	})
	mustRun(t, bin, home, "send", "Notes", "while space was low")

	// Full: every block taken. The store's reading may be up to 100 ms old
	// at a commit (its memtable's blocks are allocated ahead, so a write in
	// that window is still safe); its watcher reads every second. Once
	// status says FULL, every send must be refused.
	fill(0)
	f.Close()
	poll(t, 10*time.Second, "status says the disk is full", func() (bool, string) {
		r := run(t, bin, home, "status")
		return strings.Contains(r.stdout, "FULL"), r.stdout + r.stderr
	})
	r := run(t, bin, home, "send", "Notes", "while the disk was full")
	if r.code == 0 || !strings.Contains(r.stderr, "disk full") {
		t.Fatalf("send on a full disk: exit %d, stderr %q; want a disk full error", r.code, r.stderr)
	}
	hist := mustRun(t, bin, home, "history", "Notes")
	if !strings.Contains(hist, "before the disk filled") || !strings.Contains(hist, "while space was low") ||
		strings.Contains(hist, "while the disk was full") {
		t.Fatalf("history on a full disk:\n%s", hist)
	}
	select {
	case <-d.done:
		t.Fatalf("daemon died on a full disk: %v\n%s", d.err, d.stderr.String())
	default:
	}

	// Space freed: writes resume by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	poll(t, 15*time.Second, "a send succeeds after space is freed", func() (bool, string) {
		r := run(t, bin, home, "send", "Notes", "after space was freed")
		return r.code == 0, r.stderr
	})
	hist = mustRun(t, bin, home, "history", "Notes")
	if !strings.Contains(hist, "after space was freed") {
		t.Fatalf("history after recovery:\n%s", hist)
	}
	d.stop(t)
}
