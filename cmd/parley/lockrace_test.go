package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReadersNeverBlockDaemonStart runs `parley history` in a loop against
// a profile while a daemon is started and stopped on it ten times. Readers
// hold the store only briefly, and when they find it held by a starting
// node they wait for its API: every daemon start succeeds and every read
// succeeds, from the store or through the API.
func TestReadersNeverBlockDaemonStart(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()

	d := startDaemon(t, bin, "erin", home)
	mustRun(t, bin, home, "group", "create", "Room")
	mustRun(t, bin, home, "send", "Room", "locked in")
	d.stop(t)

	var (
		mu            sync.Mutex
		reads, viaAPI int
		viaStore      int
		failures      []string
		stop          = make(chan struct{})
		done          = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := run(t, bin, home, "history", "Room")
			mu.Lock()
			reads++
			switch {
			case r.code != 0 || !strings.Contains(r.stdout, "locked in"):
				failures = append(failures, r.stderr+r.stdout)
			case strings.Contains(r.stderr, "reading local store"):
				viaStore++
			default:
				viaAPI++
			}
			mu.Unlock()
		}
	}()
	// The loop must be running before the first start.
	poll(t, 30*time.Second, "first read", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return reads > 0, ""
	})
	for i := 0; i < 10; i++ {
		d := startDaemon(t, bin, "erin", home) // fails the test if the daemon exits early
		mustRun(t, bin, home, "status")
		d.stop(t)
	}
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d reads: %d from the store, %d through the API", reads, viaStore, viaAPI)
	if len(failures) > 0 {
		t.Fatalf("%d of %d reads failed; first:\n%s", len(failures), reads, failures[0])
	}
	if viaStore == 0 {
		t.Fatalf("no read went to the store (%d reads): the race was not exercised", reads)
	}
}
