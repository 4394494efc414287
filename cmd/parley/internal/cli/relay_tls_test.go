package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/p2p"
)

// runRelay starts `parley relay args...` and returns its standard output
// once it has printed an address, and a stop function.
func runRelay(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	var out, errb syncBuffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	root := a.rootCmd()
	root.SetArgs(append([]string{"--profile", "relay", "--log-level", "error", "relay"}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "/p2p/") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("relay exited: %v (stderr %q)", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no address printed; stderr %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out.String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// `parley relay --listen .../tls/ws --print-bridge` without --cert/--key
// makes a self-signed certificate in its profile directory, keeps it across
// restarts, and prints one bridge line that --bootstrap accepts.
func TestRelayTLSWebSocketBridgeLine(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	out, stop := runRelay(t, "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws", "--listen", "/ip4/127.0.0.1/tcp/0", "--print-bridge")
	stop()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("--print-bridge printed %d lines, want one: %q", len(lines), out)
	}
	var f peersFlag
	if err := f.Set(lines[0]); err != nil {
		t.Fatalf("--bootstrap rejects the bridge line %q: %v", lines[0], err)
	}
	if len(f.infos) != 1 || len(f.infos[0].Addrs) != 2 {
		t.Fatalf("bridge line %q parsed to %+v, want one peer with two addresses", lines[0], f.infos)
	}
	if !p2p.ListensTLSWebSocket([]string{f.infos[0].Addrs[0].String(), f.infos[0].Addrs[1].String()}) {
		t.Errorf("bridge line %q has no /tls/ws address", lines[0])
	}
	certs, _ := filepath.Glob(filepath.Join(home, "*", relayCertFile))
	if len(certs) != 1 {
		t.Fatalf("self-signed certificate files: %v, want one in the profile directory", certs)
	}
	first, err := os.ReadFile(certs[0])
	if err != nil {
		t.Fatal(err)
	}
	_, stop = runRelay(t, "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws")
	stop()
	again, err := os.ReadFile(certs[0])
	if err != nil || string(again) != string(first) {
		t.Fatalf("certificate changed across a restart (err %v)", err)
	}
}

func TestRelayCertFlagsGoTogether(t *testing.T) {
	var f tlsFlags
	f.cert = "x.crt"
	if _, err := f.option(t.TempDir(), nil); err == nil {
		t.Fatal("--cert without --key was accepted")
	}
	f = tlsFlags{}
	if opts, err := f.option(t.TempDir(), []string{"/ip4/0.0.0.0/tcp/4001"}); err != nil || len(opts) != 0 {
		t.Fatalf("no tls/ws address: options %v, err %v; want none", opts, err)
	}
}
