package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/p2p"
)

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

// `parley relay` on loopback prints full multiaddrs a node can bootstrap from.
func TestRelayPrintsBootstrapAddrs(t *testing.T) {
	t.Setenv("PARLEY_HOME", t.TempDir())
	var out, errb syncBuffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	root := a.rootCmd()
	root.SetArgs([]string{"--profile", "relay", "--log-level", "error", "relay", "--listen", "/ip4/127.0.0.1/tcp/0"})
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
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out.String())
	ais, err := p2p.ParseAddrInfos(lines)
	if err != nil || len(ais) != 1 {
		t.Fatalf("printed addresses %q do not parse as one peer: %v", lines, err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "/ip4/127.0.0.1/tcp/") {
			t.Errorf("unexpected address %q", l)
		}
	}
}

func TestPeersFlag(t *testing.T) {
	var f peersFlag
	if err := f.Set("/ip4/127.0.0.1/tcp/4001"); err == nil {
		t.Fatal("an address without /p2p/ was accepted")
	}
	id := "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	if err := f.Set("/ip4/127.0.0.1/tcp/4001/p2p/" + id); err != nil {
		t.Fatal(err)
	}
	if len(f.infos) != 1 || f.infos[0].ID.String() != id || f.String() == "" {
		t.Fatalf("parsed %+v", f.infos)
	}
}
