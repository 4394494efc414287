//go:build linux

package p2p_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/p2p"
)

const (
	envOfflineHelper = "PARLEY_OFFLINE_HELPER" // "1" in the helper
	offlineStarted   = "OFFLINE-STARTED"
	// offlineFindWait bounds discovery once the LAN is up: an interface
	// poll plus an mDNS query round plus a dial.
	offlineFindWait = 20 * time.Second
)

// TestMDNSOfflineStart covers a machine that boots with no network: in a
// namespace whose only interface (lo) is down, two hosts with mDNS on and
// the default listen addresses start without error; then the test brings a
// multicast-capable interface up and the same hosts, not restarted, find
// each other by mDNS within a bounded time.
func TestMDNSOfflineStart(t *testing.T) {
	requireNetnsAdmin(t)
	ns := uniqueName("pmdns-off")
	ino := newNetns(t, ns)
	// lo stays down: no interface, no address, no multicast route.

	k1, id1 := newTestKey(t)
	k2, id2 := newTestKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := mdnsHelperEnv(t, ino, []string{k1, k2}, "", "127.0.0.1", "")
	env = append(env, envOfflineHelper+"=1")
	p := startHelper(ctx, t, "helper", ns, "TestMDNSOfflineHelperProcess", env, offlineStarted)
	select {
	case <-p.out.seen:
	case <-p.done:
		t.Fatalf("helper exited before both hosts started offline:\n%s", p.output())
	case <-ctx.Done():
		t.Fatalf("helper did not start: %v\n%s", ctx.Err(), p.output())
	}
	// The network arrives (lo with multicast and a multicast route, as
	// in /work/shared/libp2p-notes.md).
	mustIP(t, "-n", ns, "link", "set", "lo", "multicast", "on")
	mustIP(t, "-n", ns, "link", "set", "lo", "up")
	mustIP(t, "-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo")
	p.closeStdin()
	<-p.done
	out := p.out.String()
	if p.err != nil || !strings.Contains(out, "--- PASS: TestMDNSOfflineHelperProcess") {
		t.Fatalf("helper failed: %v\n%s", p.err, p.output())
	}
	for _, want := range []string{
		fmt.Sprintf("%s %s %s ", mdnsMarker, id1, id2),
		fmt.Sprintf("%s %s %s ", mdnsMarker, id2, id1),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("helper did not print %q\n%s", want, p.output())
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, mdnsMarker) || strings.HasPrefix(line, offlineStarted) {
			t.Log(line)
		}
	}
}

// TestMDNSOfflineHelperProcess is not a test by itself: TestMDNSOfflineStart
// runs it inside a namespace with no interface up.
func TestMDNSOfflineHelperProcess(t *testing.T) {
	if os.Getenv(envOfflineHelper) != "1" {
		t.Skip("helper for TestMDNSOfflineStart; runs only re-executed inside a test network namespace")
	}
	requireInNetns(t, envMDNSNetns, envMDNSRootNS)
	if up := multicastUp(); up {
		t.Fatalf("namespace already has a multicast interface up:\n%s", interfaceReport())
	}
	service := os.Getenv(envMDNSService)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var hosts []*p2p.Host
	for _, kh := range strings.Split(os.Getenv(envMDNSKeys), ",") {
		b, err := hex.DecodeString(kh)
		if err != nil {
			t.Fatal(err)
		}
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		// Default listen addresses (all interfaces, TCP and QUIC), as a
		// daemon with default flags.
		h, err := p2p.New(context.Background(), p2p.WithIdentity(k),
			p2p.WithMDNS(true), p2p.WithMDNSService(service), p2p.WithLogger(log))
		if err != nil {
			t.Fatalf("start host with no network: %v", err)
		}
		t.Cleanup(func() { h.Close() })
		h.SetStreamHandler(mdnsEchoProt, echoHandler)
		hosts = append(hosts, h)
	}
	if len(hosts) != 2 {
		t.Fatalf("helper needs two keys, got %d", len(hosts))
	}
	fmt.Printf("%s %s %s\n", offlineStarted, hosts[0].ID(), hosts[1].ID())

	// Wait for the parent to bring the network up, then time discovery
	// from that moment.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !multicastUp() {
		select {
		case <-ctx.Done():
			t.Fatalf("network never came up:\n%s", interfaceReport())
		case <-time.After(20 * time.Millisecond):
		}
	}
	start := time.Now()
	fctx, fcancel := context.WithTimeout(context.Background(), offlineFindWait)
	defer fcancel()
	pairs := [][2]*p2p.Host{{hosts[0], hosts[1]}, {hosts[1], hosts[0]}}
	for _, pr := range pairs {
		checkMDNSConnection(fctx, t, start, pr[0], pr[1].ID(), nil)
	}
}

// multicastUp reports whether an interface is up and multicast-capable.
func multicastUp() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagMulticast != 0 {
			return true
		}
	}
	return false
}
