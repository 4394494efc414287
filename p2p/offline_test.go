//go:build linux

package p2p_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

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
// namespace whose only interface (lo) is down, hosts with mDNS on and the
// default listen addresses start without error; then the test brings a
// network up and the same hosts, not restarted, find each other by mDNS
// within a bounded time. Two kinds of network arrive: loopback made
// multicast-capable (both hosts in one namespace), and a LAN (a bridge, and a
// veth pair per namespace created only after the hosts started).
func TestMDNSOfflineStart(t *testing.T) {
	requireNetnsAdmin(t)
	t.Run("loopback", testOfflineLoopback)
	t.Run("lan", testOfflineLAN)
}

func testOfflineLoopback(t *testing.T) {
	ns := uniqueName("pmdns-off")
	ino := newNetns(t, ns)
	// lo stays down: no interface, no address, no multicast route.
	k1, id1 := newTestKey(t)
	k2, id2 := newTestKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := mdnsHelperEnv(t, ino, []string{k1, k2}, "", "", "")
	env = append(env, envOfflineHelper+"=1")
	p := startHelper(ctx, t, "helper", ns, "TestMDNSOfflineHelperProcess", env, offlineStarted)
	waitStarted(ctx, t, p)
	// The network arrives (lo with multicast and a multicast route, as
	// in /work/shared/libp2p-notes.md).
	mustIP(t, "-n", ns, "link", "set", "lo", "multicast", "on")
	mustIP(t, "-n", ns, "link", "set", "lo", "up")
	mustIP(t, "-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo")
	p.closeStdin()
	<-p.done
	checkOffline(t, p, id1, id2)
	checkOffline(t, p, id2, id1)
}

func testOfflineLAN(t *testing.T) {
	type node struct {
		ns, ip, key string
		ino         uint64
		id          peer.ID
		p           *helperProcess
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc := mdnsTestService()
	nodes := make([]*node, 2)
	for i := range nodes {
		n := &node{ns: uniqueName(fmt.Sprintf("pmdns-off%d", i+1)), ip: fmt.Sprintf("10.213.8.%d", i+1)}
		n.ino = newNetns(t, n.ns)
		n.key, n.id = newTestKey(t)
		nodes[i] = n
	}
	for i, n := range nodes {
		other := nodes[1-i]
		env := mdnsHelperEnv(t, n.ino, []string{n.key}, "", other.ip, svc)
		env = append(env, envOfflineHelper+"=1", envMDNSPeer+"="+other.id.String(), envMDNSHold+"=1")
		n.p = startHelper(ctx, t, n.ns, n.ns, "TestMDNSOfflineHelperProcess", env, offlineStarted)
	}
	for _, n := range nodes {
		waitStarted(ctx, t, n.p)
	}
	// Now the LAN: a bridge, and each node's cable plugged in.
	br := uniqueName("pmdns-offbr")
	newNetns(t, br)
	mustIP(t, "-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	mustIP(t, "-n", br, "link", "set", "br0", "up")
	for i, n := range nodes {
		port := fmt.Sprintf("veth%d", i+1)
		mustIP(t, "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", br)
		mustIP(t, "-n", br, "link", "set", port, "master", "br0")
		mustIP(t, "-n", br, "link", "set", port, "up")
		mustIP(t, "-n", n.ns, "link", "set", "lo", "up")
		mustIP(t, "-n", n.ns, "addr", "add", n.ip+"/24", "dev", "eth0")
		mustIP(t, "-n", n.ns, "link", "set", "eth0", "multicast", "on")
		mustIP(t, "-n", n.ns, "link", "set", "eth0", "up")
		mustIP(t, "-n", n.ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
	}
	// Each helper holds its host up after its own checks for the other's.
	for _, n := range nodes {
		waitOutput(ctx, n.p, mdnsMarker)
	}
	for _, n := range nodes {
		n.p.closeStdin()
	}
	for i, n := range nodes {
		<-n.p.done
		checkOffline(t, n.p, n.id, nodes[1-i].id)
	}
}

// waitOutput waits until p has printed a line starting with marker, has
// exited, or ctx is done.
func waitOutput(ctx context.Context, p *helperProcess, marker string) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		out := p.out.String()
		if strings.HasPrefix(out, marker) || strings.Contains(out, "\n"+marker) {
			return
		}
		select {
		case <-p.done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func waitStarted(ctx context.Context, t *testing.T, p *helperProcess) {
	t.Helper()
	select {
	case <-p.out.seen:
	case <-p.done:
		t.Fatalf("helper exited before its hosts started offline:\n%s", p.output())
	case <-ctx.Done():
		t.Fatalf("helper did not start: %v\n%s", ctx.Err(), p.output())
	}
}

// checkOffline asserts that the helper passed and reported self connected
// to other by mDNS.
func checkOffline(t *testing.T, p *helperProcess, self, other peer.ID) {
	t.Helper()
	out := p.out.String()
	want := fmt.Sprintf("%s %s %s ", mdnsMarker, self, other)
	if p.err != nil || !strings.Contains(out, "--- PASS: TestMDNSOfflineHelperProcess") || !strings.Contains(out, want) {
		t.Errorf("%s: exit %v; want a passing helper that printed %q\n%s", p.name, p.err, want, p.output())
		return
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, want) {
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
	// Who must find whom: two hosts in one namespace find each other over
	// loopback; one host finds the peer named in the environment, from
	// the address given there.
	type pair struct {
		h    *p2p.Host
		peer peer.ID
	}
	var pairs []pair
	var peerIP net.IP // nil: loopback
	switch len(hosts) {
	case 2:
		pairs = []pair{{hosts[0], hosts[1].ID()}, {hosts[1], hosts[0].ID()}}
	case 1:
		p, err := peer.Decode(os.Getenv(envMDNSPeer))
		if err != nil {
			t.Fatalf("%s: %v", envMDNSPeer, err)
		}
		if peerIP = net.ParseIP(os.Getenv(envMDNSPeerIP)); peerIP == nil {
			t.Fatalf("helper with one key needs %s", envMDNSPeerIP)
		}
		pairs = []pair{{hosts[0], p}}
	default:
		t.Fatalf("helper needs one or two keys, got %d", len(hosts))
	}
	fmt.Printf("%s %v\n", offlineStarted, pairs)

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
	for _, pr := range pairs {
		checkMDNSConnection(fctx, t, start, pr.h, pr.peer, peerIP)
	}
	if t.Failed() || os.Getenv(envMDNSHold) != "1" {
		return
	}
	// Stay reachable for the peer's own checks until the parent says so.
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(offlineFindWait + 10*time.Second):
		t.Error("parent never released the helper")
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
