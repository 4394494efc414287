package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
)

// apiClient returns a client for the daemon d once its api.json names d's
// own pid (a daemon killed earlier leaves a stale api.json behind) and the
// node answers.
func apiClient(t *testing.T, d *daemon) *api.Client {
	t.Helper()
	dir := filepath.Join(d.home, "default")
	var c *api.Client
	poll(t, 60*time.Second, "control API of "+d.name+" (pid "+fmt.Sprint(d.cmd.Process.Pid)+")", func() (bool, string) {
		select {
		case <-d.done:
			t.Fatalf("daemon %s exited: %v\n%s", d.name, d.err, d.stderr.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, "api.json"))
		if err != nil {
			return false, err.Error()
		}
		var rt struct {
			Addr string `json:"addr"`
			PID  int    `json:"pid"`
		}
		if err := json.Unmarshal(b, &rt); err != nil {
			return false, fmt.Sprintf("api.json %q: %v", b, err)
		}
		if rt.PID != d.cmd.Process.Pid {
			return false, fmt.Sprintf("api.json names pid %d", rt.PID)
		}
		tok, err := os.ReadFile(filepath.Join(dir, "token"))
		if err != nil {
			return false, err.Error()
		}
		cl := api.NewClient(rt.Addr, strings.TrimSpace(string(tok)))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cl.Status(ctx); err != nil {
			return false, "status: " + err.Error()
		}
		c = cl
		return true, ""
	})
	return c
}

// checkAcked checks that every acknowledged id occurs exactly once in ms,
// with the text that was sent, and that every stored text is one that was
// sent (at most once).
func checkAcked(t *testing.T, where string, ms []message, acked map[string]string, sent map[string]bool) {
	t.Helper()
	ids := map[string]int{}
	txt := map[string]int{}
	for _, m := range ms {
		ids[m.ID]++
		if m.Kind != "text" {
			continue
		}
		txt[m.Text]++
		if !sent[m.Text] {
			t.Errorf("%s: stored text %q (id %s) was never sent", where, m.Text, m.ID)
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s: id %s stored %d times", where, id, n)
		}
	}
	for text, n := range txt {
		if n != 1 {
			t.Errorf("%s: text %q stored %d times", where, text, n)
		}
	}
	missing := 0
	for id, text := range acked {
		if ids[id] != 1 {
			missing++
			if missing <= 10 {
				t.Errorf("%s: acknowledged message %s (%q) occurs %d times", where, id, text, ids[id])
			}
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged messages missing or duplicated", where, missing, len(acked))
	}
}

// TestKillDuringBurstLosesNothing SIGKILLs a daemon in the middle of a burst
// of concurrent sends and checks that every send the API acknowledged
// survives, exactly once, both offline and after a restart.
func TestKillDuringBurstLosesNothing(t *testing.T) {
	const (
		workers   = 4
		killAfter = 300 // acknowledgements before the kill
	)
	bin := parleyBinary(t)
	home := t.TempDir()
	start := time.Now()

	d := startDaemon(t, bin, "burst", home)
	c := apiClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	g, err := c.CreateGroup(ctx, "Burst", false)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	gid := g.ID

	var (
		mu       sync.Mutex
		acked    = map[string]string{} // id -> text
		sent     = map[string]bool{}   // every text whose send was started
		nAcked   atomic.Int64
		inFlight atomic.Int64
		killed   atomic.Bool
		reached  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	burstCtx, stopBurst := context.WithTimeout(context.Background(), 90*time.Second)
	defer stopBurst()
	failedEarly := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; burstCtx.Err() == nil; i++ {
				text := fmt.Sprintf("burst w%d #%d", w, i)
				mu.Lock()
				sent[text] = true
				mu.Unlock()
				rctx, rcancel := context.WithTimeout(burstCtx, 15*time.Second)
				inFlight.Add(1)
				m, err := c.Send(rctx, gid, text)
				inFlight.Add(-1)
				rcancel()
				if err != nil {
					if !killed.Load() {
						failedEarly <- fmt.Errorf("worker %d send %d before the kill: %w", w, i, err)
					}
					return
				}
				if m.ID == "" || m.Text != text {
					failedEarly <- fmt.Errorf("worker %d: acknowledgement %+v for %q", w, m, text)
					return
				}
				mu.Lock()
				if prev, dup := acked[m.ID]; dup {
					mu.Unlock()
					failedEarly <- fmt.Errorf("id %s acknowledged for %q and %q", m.ID, prev, text)
					return
				}
				acked[m.ID] = text
				mu.Unlock()
				if nAcked.Add(1) >= killAfter {
					once.Do(func() { close(reached) })
				}
			}
		}(w)
	}
	waitWorkers := func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("senders did not stop")
		}
	}

	select {
	case <-reached:
	case err := <-failedEarly:
		stopBurst()
		waitWorkers()
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		// Slow machine: kill with whatever was acknowledged so far.
		t.Logf("deadline before %d acknowledgements; killing after %d", killAfter, nAcked.Load())
	}
	killed.Store(true)
	flying := inFlight.Load()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit after SIGKILL")
	}
	var ee *exec.ExitError
	if !errors.As(d.err, &ee) {
		t.Fatalf("daemon exit after SIGKILL: %v", d.err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("daemon was not killed by SIGKILL: %v", d.err)
	}
	waitWorkers()
	stopBurst()
	select {
	case err := <-failedEarly:
		t.Fatal(err)
	default:
	}
	mu.Lock()
	ackedCopy := make(map[string]string, len(acked))
	for k, v := range acked {
		ackedCopy[k] = v
	}
	sentCopy := make(map[string]bool, len(sent))
	for k, v := range sent {
		sentCopy[k] = v
	}
	mu.Unlock()
	if len(ackedCopy) == 0 {
		t.Fatal("no send was acknowledged before the kill")
	}
	t.Logf("killed after %d acknowledgements, %d sends in flight at the kill, %d sends started, %v after start",
		len(ackedCopy), flying, len(sentCopy), time.Since(start).Round(time.Millisecond))

	// Offline: the store opens after the crash and holds every acked message.
	r := run(t, bin, home, "history", gid, "--limit", "10000", "--json")
	if r.code != 0 {
		t.Fatalf("offline history after SIGKILL: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "node not running") {
		t.Errorf("offline history did not read the local store: stderr %q", r.stderr)
	}
	var offline []message
	if err := json.Unmarshal([]byte(r.stdout), &offline); err != nil {
		t.Fatalf("offline history --json: %v\n%.2000s", err, r.stdout)
	}
	checkAcked(t, "offline history", offline, ackedCopy, sentCopy)
	t.Logf("offline history: %d messages (%d text) for %d acknowledged",
		len(offline), len(texts(offline)), len(ackedCopy))
	if t.Failed() {
		t.FailNow()
	}

	// Restart on the same home: it starts, serves the same history and accepts sends.
	d2 := startDaemon(t, bin, "burst", home)
	c2 := apiClient(t, d2)
	hist := func() []message {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ms, err := c2.History(ctx, gid, "", 10000)
		if err != nil {
			t.Fatalf("history after restart: %v", err)
		}
		out := make([]message, len(ms))
		for i, m := range ms {
			out[i] = message{ID: m.ID, Kind: m.Kind, Text: m.Text, Author: m.Author}
		}
		return out
	}
	online := hist()
	checkAcked(t, "history after restart", online, ackedCopy, sentCopy)
	if len(online) != len(offline) {
		t.Errorf("history after restart has %d messages, offline had %d", len(online), len(offline))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	m, err := c2.Send(ctx, gid, "after the crash")
	cancel()
	if err != nil || m.ID == "" {
		t.Fatalf("send after restart: %+v %v", m, err)
	}
	after := hist()
	if n := len(after); n == 0 || n != len(online)+1 || after[n-1].ID != m.ID || after[n-1].Text != "after the crash" {
		t.Errorf("history after the new send: %d messages (was %d), want the new one (id %s) last", n, len(online), m.ID)
	}
	d2.stop(t)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
