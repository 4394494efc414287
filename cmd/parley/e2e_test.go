package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test builds the parley binary once and drives real daemons,
// each in its own PARLEY_HOME, listening on loopback only with mDNS off.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func parleyBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not available: cannot build the parley binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "parley-e2e-bin")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "parley")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", binPath, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type daemon struct {
	name   string
	home   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func env(home string) []string {
	return append(os.Environ(), "PARLEY_HOME="+home)
}

func startDaemon(t *testing.T, bin, name, home string) *daemon {
	t.Helper()
	return startDaemonEnv(t, bin, name, home)
}

// startDaemonEnv is startDaemon with extra environment variables (KEY=VALUE).
func startDaemonEnv(t *testing.T, bin, name, home string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, home: home, stderr: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "daemon", "--mdns=false", "--listen", "/ip4/127.0.0.1/tcp/0", "--name", name, "--log-level", "debug")
	d.cmd.Env = append(env(home), extra...)
	d.cmd.Stdout = d.stderr
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("daemon %s output:\n%s", d.name, d.stderr.String())
		}
	})
	apiFile := filepath.Join(home, "default", "api.json")
	poll(t, 60*time.Second, "api.json of "+name, func() (bool, string) {
		select {
		case <-d.done:
			t.Fatalf("daemon %s exited early: %v\n%s", name, d.err, d.stderr.String())
		default:
		}
		_, err := os.Stat(apiFile)
		return err == nil, fmt.Sprint(err)
	})
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon %s did not exit after SIGTERM", d.name)
	}
	if d.err != nil {
		t.Fatalf("daemon %s exited with %v\n%s", d.name, d.err, d.stderr.String())
	}
}

// poll calls cond until it holds or the deadline passes.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, last)
		}
		<-tick.C
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, bin, home string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return runCmd(t, exec.CommandContext(ctx, bin, args...), home, fmt.Sprintf("parley %v", args))
}

// runCmd runs cmd with home's environment and returns its output and exit
// code; a command that cannot run at all fails the test, named by what.
func runCmd(t *testing.T, cmd *exec.Cmd, home, what string) result {
	t.Helper()
	cmd.Env = env(home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", what, err)
	}
	return r
}

func mustRun(t *testing.T, bin, home string, args ...string) string {
	t.Helper()
	r := run(t, bin, home, args...)
	if r.code != 0 {
		t.Fatalf("parley %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

type message struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	Author string `json:"author"`
}

func texts(ms []message) []message {
	var out []message
	for _, m := range ms {
		if m.Kind == "text" {
			out = append(out, m)
		}
	}
	return out
}

func hasTexts(ms []message, want ...string) bool {
	for _, w := range want {
		found := false
		for _, m := range ms {
			if m.Kind == "text" && m.Text == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestEndToEnd(t *testing.T) {
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()

	a := startDaemon(t, bin, "alice", homeA)
	b := startDaemon(t, bin, "bob", homeB)

	// Runtime files are private.
	for _, home := range []string{homeA, homeB} {
		dir := filepath.Join(home, "default")
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("profile dir %s: %v %v", dir, fi.Mode(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "token")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v %v", fi.Mode(), err)
		}
	}

	gid := strings.TrimSpace(mustRun(t, bin, homeA, "group", "create", "Family"))
	if len(gid) != 32 {
		t.Fatalf("group id %q", gid)
	}
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Family"))
	if !strings.HasPrefix(code, "parley1") || strings.ContainsAny(code, " \n") {
		t.Fatalf("invite code %q", code)
	}
	joined := mustRun(t, bin, homeB, "group", "join", code)
	if !strings.Contains(joined, gid) {
		t.Fatalf("join printed %q, want the group id %s", joined, gid)
	}
	mustRun(t, bin, homeA, "send", "Family", "hello", "from", "A")
	mustRun(t, bin, homeB, "send", "Family", "hello from B")

	history := func(home string) ([]message, string) {
		r := run(t, bin, home, "history", "Family", "--json")
		if r.code != 0 {
			return nil, r.stderr
		}
		var ms []message
		if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
			t.Fatalf("history --json: %v\n%s", err, r.stdout)
		}
		return ms, r.stdout
	}
	var histA, histB []message
	poll(t, 30*time.Second, "both messages on both nodes", func() (bool, string) {
		var sa, sb string
		histA, sa = history(homeA)
		histB, sb = history(homeB)
		return hasTexts(histA, "hello from A", "hello from B") && hasTexts(histB, "hello from A", "hello from B"),
			"A: " + sa + "\nB: " + sb
	})
	ta, tb := texts(histA), texts(histB)
	if len(ta) != 2 || len(tb) != 2 {
		t.Fatalf("text messages: A %v, B %v", ta, tb)
	}
	for i := range ta {
		if ta[i].ID != tb[i].ID {
			t.Fatalf("order differs: A %v, B %v", ta, tb)
		}
	}

	// Both see both members.
	poll(t, 30*time.Second, "two members on A", func() (bool, string) {
		r := run(t, bin, homeA, "group", "members", "Family")
		return r.code == 0 && strings.Count(strings.TrimSpace(r.stdout), "\n") == 1, r.stdout + r.stderr
	})

	// Status, peers and groups answer from the running node.
	if out := mustRun(t, bin, homeA, "status"); !strings.Contains(out, "peer id:") {
		t.Fatalf("status: %s", out)
	}
	mustRun(t, bin, homeA, "peers")
	if out := mustRun(t, bin, homeB, "groups"); !strings.Contains(out, gid) || !strings.Contains(out, "Family") {
		t.Fatalf("groups on B: %s", out)
	}

	// Node errors reach the user verbatim with a non-zero exit.
	r := run(t, bin, homeA, "send", "Nope", "hi")
	if r.code == 0 || !strings.Contains(r.stderr, `group not found: "Nope"`) {
		t.Fatalf("send to missing group: exit %d, stderr %q", r.code, r.stderr)
	}

	// Stop B; its history is still readable from the local store.
	b.stop(t)
	if _, err := os.Stat(filepath.Join(homeB, "default", "api.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("api.json left behind after SIGTERM: %v", err)
	}
	r = run(t, bin, homeB, "history", "Family")
	if r.code != 0 || !strings.Contains(r.stderr, "(node not running: reading local store)") ||
		!strings.Contains(r.stdout, "hello from A") || !strings.Contains(r.stdout, "hello from B") {
		t.Fatalf("offline history: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Index(r.stdout, "hello from A") > strings.Index(r.stdout, "hello from B") != (ta[0].Text == "hello from B") {
		t.Fatalf("offline history order differs from the online one:\n%s", r.stdout)
	}
	// Commands that need the node say how to start it.
	r = run(t, bin, homeB, "group", "invite", "Family")
	if r.code == 0 || !strings.Contains(r.stderr, "parley daemon") {
		t.Fatalf("invite without node: exit %d, stderr %q", r.code, r.stderr)
	}
	// send without a node stores the message for the next run (issue 13;
	// rich_e2e_test.go checks it is in the history).
	r = run(t, bin, homeB, "send", "Family", "x")
	if r.code != 0 || !strings.Contains(r.stderr, "stored locally") {
		t.Fatalf("send without node: exit %d, stderr %q", r.code, r.stderr)
	}
	// A stale api.json (nothing listening) falls back to the store too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stale := ln.Addr().String()
	ln.Close()
	dirB := filepath.Join(homeB, "default")
	if err := os.WriteFile(filepath.Join(dirB, "token"), []byte("00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "api.json"), []byte(`{"addr":"`+stale+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, bin, homeB, "groups")
	if r.code != 0 || !strings.Contains(r.stdout, gid) || !strings.Contains(r.stderr, "node not running") {
		t.Fatalf("groups with stale api.json: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// A taken name is made distinct, with a notice.
	r = run(t, bin, homeA, "group", "create", "Family")
	gid2 := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.Contains(r.stderr, "name 'Family' is taken; created as 'Family (2)'") {
		t.Fatalf("create with a taken name: exit %d, stderr %q", r.code, r.stderr)
	}
	// An ambiguous name (here from a rename) lists the ids.
	mustRun(t, bin, homeA, "group", "rename", "Family (2)", "Family")
	r = run(t, bin, homeA, "history", "Family")
	if r.code == 0 || !strings.Contains(r.stderr, "ambiguous") || !strings.Contains(r.stderr, gid) || !strings.Contains(r.stderr, gid2) {
		t.Fatalf("ambiguous name: exit %d, stderr %q", r.code, r.stderr)
	}
	a.stop(t)
}

// TestFreshProfile checks first-run behaviour without any node.
func TestFreshProfile(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()
	// Client commands do not create a profile; they say how to.
	r := run(t, bin, home, "groups")
	if r.code == 0 || !strings.Contains(r.stderr, `no such profile "default"`) || !strings.Contains(r.stderr, "`parley init`") {
		t.Fatalf("groups before init: exit %d, stderr %q", r.code, r.stderr)
	}
	id := strings.TrimSpace(mustRun(t, bin, home, "init", "--name", "carol"))
	r = run(t, bin, home, "groups")
	if r.code != 0 || !strings.Contains(r.stderr, "(node not running: reading local store)") {
		t.Fatalf("groups on a fresh profile: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.HasPrefix(id, "12D3KooW") {
		t.Fatalf("init printed %q", id)
	}
	// The identity is kept.
	if again := strings.TrimSpace(mustRun(t, bin, home, "init")); again != id {
		t.Fatalf("identity changed: %s then %s", id, again)
	}
	for _, args := range [][]string{{"status"}, {"peers"}, {"group", "create", "X"}, {"tail", "X"}} {
		r := run(t, bin, home, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "`parley daemon` or `parley up`") {
			t.Fatalf("%v without node: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	r = run(t, bin, home, "--profile", "../x", "groups")
	if r.code == 0 || !strings.Contains(r.stderr, "invalid profile name") {
		t.Fatalf("bad profile name: exit %d, stderr %q", r.code, r.stderr)
	}
}

// background is a parley process whose output is collected as it runs.
type background struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startBackground(t *testing.T, bin, home string, stdin *os.File, args ...string) *background {
	t.Helper()
	p := &background{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env(home)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if stdin != nil {
		p.cmd.Stdin = stdin
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("parley %v\nstdout:\n%s\nstderr:\n%s", args, p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

func (p *background) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not exit after %v", sig)
	}
	if p.err != nil {
		t.Fatalf("exit after %v: %v", sig, p.err)
	}
}

// TestUpScriptedAndTail drives `parley up` through a pipe and follows the
// group with `parley tail`.
func TestUpScriptedAndTail(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	up := startBackground(t, bin, home, pr, "up", "--mdns=false", "--listen", "/ip4/127.0.0.1/tcp/0", "--name", "dora")
	pr.Close() // the child holds its copy

	fmt.Fprintln(pw, "/create Room")
	fmt.Fprintln(pw, "hi there")
	poll(t, 60*time.Second, "chat echo", func() (bool, string) {
		return strings.Contains(up.stdout.String(), "(Room) dora: hi there"), up.stdout.String()
	})

	tail := startBackground(t, bin, home, nil, "tail", "Room")
	poll(t, 30*time.Second, "tail to subscribe", func() (bool, string) {
		select {
		case <-tail.done:
			t.Fatalf("tail exited: %v\n%s", tail.err, tail.stderr.String())
		default:
		}
		return strings.Contains(tail.stderr.String(), "(following Room"), tail.stderr.String()
	})
	mustRun(t, bin, home, "send", "Room", "via the API")
	fmt.Fprintln(pw, "typed in chat")
	poll(t, 30*time.Second, "tail output", func() (bool, string) {
		out := tail.stdout.String()
		return strings.Contains(out, "dora: via the API") && strings.Contains(out, "dora: typed in chat"), out
	})
	tail.signal(t, os.Interrupt)

	// End of a non-terminal stdin: the node keeps running.
	fmt.Fprintln(pw, "/history 10")
	pw.Close()
	poll(t, 30*time.Second, "history in chat", func() (bool, string) {
		return strings.Count(up.stdout.String(), "dora: via the API") >= 2, up.stdout.String()
	})
	if out := mustRun(t, bin, home, "status"); !strings.Contains(out, "groups:   1") {
		t.Fatalf("status after stdin EOF: %s", out)
	}
	// A running node whose api.json went missing: readers say the store is in use.
	apiFile := filepath.Join(home, "default", "api.json")
	if err := os.Rename(apiFile, apiFile+".away"); err != nil {
		t.Fatal(err)
	}
	r := run(t, bin, home, "history", "Room")
	if r.code == 0 || !strings.Contains(r.stderr, "in use by another process") || !strings.Contains(r.stderr, "without publishing its control API") {
		t.Fatalf("history with locked store: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, bin, home, "daemon", "--mdns=false", "--listen", "/ip4/127.0.0.1/tcp/0")
	if r.code == 0 || !strings.Contains(r.stderr, "already running") {
		t.Fatalf("second daemon on one profile: exit %d, stderr %q", r.code, r.stderr)
	}
	if err := os.Rename(apiFile+".away", apiFile); err != nil {
		t.Fatal(err)
	}
	up.signal(t, syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(home, "default", "api.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("api.json left behind: %v", err)
	}
}
