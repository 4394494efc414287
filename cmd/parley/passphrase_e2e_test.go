package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const passEnv = "PARLEY_PASSPHRASE"

// runEnv runs parley with extra environment variables, without any
// PARLEY_PASSPHRASE inherited from the test's own environment.
func runEnv(t *testing.T, bin, home string, extra []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var e []string
	for _, kv := range env(home) {
		if !strings.HasPrefix(kv, passEnv+"=") {
			e = append(e, kv)
		}
	}
	cmd.Env = append(e, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, nil // stdin /dev/null: no terminal to ask
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("parley %v did not exit", args)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// snapshot hashes every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s: %s changed or vanished", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared", what, p)
		}
	}
}

func TestPassphraseEncryptedProfile(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()
	good := []string{passEnv + "=correct horse battery staple"}
	wrong := []string{passEnv + "=incorrect horse"}
	dir := filepath.Join(home, "default")

	r := runEnv(t, bin, home, good, "init", "--passphrase", "--name", "alice")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "12D3KooW") || !strings.Contains(r.stderr, "store: encrypted") {
		t.Fatalf("init --passphrase: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "parley-key.json")); err != nil {
		t.Fatalf("no key file after init --passphrase: %v", err)
	}
	// init again opens it with the passphrase, and refuses a wrong one.
	if r := runEnv(t, bin, home, good, "init"); r.code != 0 || !strings.Contains(r.stderr, "store: encrypted") {
		t.Fatalf("second init: exit %d\n%s", r.code, r.stderr)
	}

	// A wrong or missing passphrase: a clear error, non-zero exit, nothing touched.
	before := snapshot(t, dir)
	for _, c := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"wrong", wrong, "wrong passphrase"},
		{"missing", nil, passEnv},
	} {
		for _, args := range [][]string{
			{"daemon", "--mdns=false", "--listen", "/ip4/127.0.0.1/tcp/0"},
			{"history", "General"},
			{"init"},
		} {
			r := runEnv(t, bin, home, c.extra, args...)
			if r.code == 0 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s passphrase, parley %v: exit %d, stderr %q (want %q)", c.name, args, r.code, r.stderr, c.want)
			}
		}
	}
	sameFiles(t, "after refused opens", before, snapshot(t, dir))
	if t.Failed() {
		t.FailNow()
	}

	// The right one: the daemon runs, status says encrypted.
	d := startDaemonEnv(t, bin, "alice", home, good...)
	st := mustRun(t, bin, home, "status")
	if !strings.Contains(st, "store: encrypted") {
		t.Fatalf("status: %s", st)
	}
	var sj struct {
		Encrypted bool `json:"encrypted"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, bin, home, "status", "--json")), &sj); err != nil || !sj.Encrypted {
		t.Fatalf("status --json: encrypted %v, %v", sj.Encrypted, err)
	}
	// init without the passphrase asks the running node for its id.
	if r := runEnv(t, bin, home, nil, "init"); r.code != 0 || !strings.HasPrefix(r.stdout, "12D3KooW") {
		t.Fatalf("init beside the running node: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	marker := "secret-" + rand.Text()
	mustRun(t, bin, home, "group", "create", "General")
	mustRun(t, bin, home, "send", "General", "the", marker, "is here")
	if out := mustRun(t, bin, home, "history", "General"); !strings.Contains(out, marker) {
		t.Fatalf("history lacks the message: %s", out)
	}
	d.stop(t)

	// Reading the store directly needs the passphrase too.
	if r := runEnv(t, bin, home, good, "history", "General"); r.code != 0 || !strings.Contains(r.stdout, marker) {
		t.Fatalf("history from the encrypted store: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(t, bin, home, wrong, "history", "General"); r.code == 0 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("history with a wrong passphrase: exit %d\n%s", r.code, r.stderr)
	}

	// No file of the profile holds the text in clear.
	files := 0
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the message text in clear", path)
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("scanned %d files: %v", files, err)
	}
}

func TestPassphrasePlainProfile(t *testing.T) {
	bin := parleyBinary(t)
	home := t.TempDir()
	d := startDaemon(t, bin, "bob", home)
	if st := mustRun(t, bin, home, "status"); !strings.Contains(st, "store: unencrypted (create with `parley init --passphrase`)") {
		t.Fatalf("status: %s", st)
	}
	d.stop(t)
	// A passphrase for a plain store is refused clearly.
	r := runEnv(t, bin, home, []string{passEnv + "=x"}, "init", "--passphrase")
	if r.code == 0 || !strings.Contains(r.stderr, "not supported") {
		t.Fatalf("init --passphrase on a plain profile: exit %d\n%s", r.code, r.stderr)
	}
}
