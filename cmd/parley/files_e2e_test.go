package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fileRow struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Size    uint64 `json:"size"`
	Root    string `json:"root"`
	Hash    string `json:"hash"`
	State   string `json:"state"`
	Done    uint64 `json:"done"`
	Fetched int    `json:"fetched"`
}

func listFiles(t *testing.T, bin, home string) []fileRow {
	t.Helper()
	var fs []fileRow
	out := mustRun(t, bin, home, "files", "Family", "--json")
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("files --json: %v\n%s", err, out)
	}
	return fs
}

func randomFile(t *testing.T, path string, size int) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(42, 43))
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		n := min(left, len(buf))
		f.Write(buf[:n])
		h.Write(buf[:n])
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// TestFileKillResume: bob's daemon is killed with SIGKILL half-way through
// `parley file get`; restarted, it fetches only the chunks it had not made
// durable, and the saved file is byte-identical.
func TestFileKillResume(t *testing.T) {
	bin := parleyBinary(t)
	homeA, homeB := t.TempDir(), t.TempDir()
	startDaemon(t, bin, "alice", homeA)
	b := startDaemon(t, bin, "bob", homeB)
	mustRun(t, bin, homeA, "group", "create", "Family")
	code := strings.TrimSpace(mustRun(t, bin, homeA, "group", "invite", "Family"))
	mustRun(t, bin, homeB, "group", "join", code)

	const size = 160 << 20
	src := filepath.Join(t.TempDir(), "movie.bin")
	sum := randomFile(t, src, size)
	out := mustRun(t, bin, homeA, "file", "send", "Family", src)
	id := strings.Fields(out)[0]
	if len(id) != 64 {
		t.Fatalf("file send printed %q", out)
	}
	var row fileRow
	poll(t, 30*time.Second, "bob to hold the announcement", func() (bool, string) {
		for _, f := range listFiles(t, bin, homeB) {
			if f.ID == id {
				row = f
				return true, ""
			}
		}
		return false, "not yet"
	})
	if row.State != "missing" || row.Name != "movie.bin" || row.Size != size {
		t.Fatalf("bob's row before the fetch: %+v", row)
	}

	dest := filepath.Join(t.TempDir(), "got.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	get := exec.CommandContext(ctx, bin, "file", "get", "Family", id, "--out", dest)
	get.Env = env(homeB)
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as some chunks are durable (their bits are on disk).
	haveFile := filepath.Join(homeB, "default", "files", row.Root, "have")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(haveFile); err == nil && strings.Trim(string(b), "\x00") != "" {
			n := 0
			for _, x := range b {
				n += bits.OnesCount8(x)
			}
			t.Logf("first durable bits seen: %d", n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's fetch never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The CLI first (it would otherwise run a node of its own and finish
	// the fetch when the daemon is gone), then the daemon.
	get.Process.Signal(syscall.SIGKILL)
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.done
	get.Wait()

	have, err := os.ReadFile(haveFile)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, x := range have {
		held += bits.OnesCount8(x)
	}
	chunks := size / (256 << 10)
	if held == 0 || held >= chunks {
		t.Fatalf("kill was not half-way: %d of %d chunks durable", held, chunks)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("a half-fetched file was saved")
	}

	apiClient(t, startDaemon(t, bin, "bob", homeB)) // answers from the new daemon
	mustRun(t, bin, homeB, "file", "get", "Family", id[:12], "--out", dest)
	if sha256File(t, dest) != sum {
		t.Fatal("saved file differs")
	}
	var final fileRow
	for _, f := range listFiles(t, bin, homeB) {
		if f.ID == id {
			final = f
		}
	}
	if final.State != "complete" || final.Fetched != chunks-held {
		t.Fatalf("after the restart bob fetched %d chunks, lacking %d (held %d of %d); row %+v", final.Fetched, chunks-held, held, chunks, final)
	}
	t.Logf("killed with %d of %d chunks durable; the restarted daemon fetched the other %d", held, chunks, final.Fetched)
	if plain := mustRun(t, bin, homeB, "files", "Family"); !strings.Contains(plain, "movie.bin") || !strings.Contains(plain, "complete") {
		t.Fatalf("files: %s", plain)
	}
}
