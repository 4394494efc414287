//go:build linux

package main

// Hostile networks (issue 15), each node a real parley process in network
// namespaces the test builds (helpers in nat_test.go):
//
//   - TestDaemonStartsOffline: a daemon with default flags (mDNS on) starts
//     on a machine with no network, serves its local API and chats offline,
//     and finds a LAN peer by mDNS once a network appears, without restart.
//   - TestRelayThroughHTTPSOnlyFirewall: members whose firewall lets out only
//     TCP 443 reach a `parley relay` over WebSocket-over-TLS on 443 from its
//     bridge line, and chat through it.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDaemonStartsOffline: a daemon with default flags (mDNS on, all
// interfaces) starts in a namespace with no interface up at all, not even
// loopback. Before issue 15 it exited with "start mdns: ..." unless
// --mdns=false was given. The CLI reaches the daemon's API over 127.0.0.1,
// so loopback then comes up (still not multicast-capable, no route: a
// machine in airplane mode) and the same daemon answers and chats offline.
func TestDaemonStartsOffline(t *testing.T) {
	hostileTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	n := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	ns := n.add("offline")
	n.ip(ns, "link", "set", "lo", "down") // add brings it up
	if out := mustSh(t, "ip", "-n", ns, "-o", "link", "show"); strings.Contains(out, "MULTICAST") || strings.Contains(out, "LOWER_UP") ||
		strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("namespace is not offline: %s", out)
	}

	ann := &natMember{name: "ann", ns: ns, home: t.TempDir()}
	ann.proc = startInNetns(t, "ann", ns, ann.home, nil, bin, "daemon", "--name", "ann", "--log-level", "debug")
	poll(t, 30*time.Second, "ann running with no interface up", func() (bool, string) {
		if ann.proc.exited() {
			t.Fatalf("daemon with default flags exited with no network: %v\n%s", ann.proc.err, ann.proc.stderr.String())
		}
		return strings.Contains(ann.proc.stderr.String(), "node running"), ann.proc.stderr.String()
	})
	n.ip(ns, "link", "set", "lo", "up")
	poll(t, 30*time.Second, "ann's status with loopback only", func() (bool, string) {
		if ann.proc.exited() {
			t.Fatalf("ann exited: %v\n%s", ann.proc.err, ann.proc.stderr.String())
		}
		s, ok := ann.status(t, bin)
		ann.id = s.ID
		return ok && s.ID != "", ann.proc.stderr.String()
	})
	// Chats work offline: a group, a message, the history.
	const group = "Offline"
	ann.mustCLI(t, bin, "group", "create", group)
	ann.mustCLI(t, bin, "send", group, "written offline")
	if !hasTexts(ann.history(t, bin, group), "written offline") {
		t.Fatalf("history offline lacks the message: %v", ann.history(t, bin, group))
	}

	// The network arrives: loopback becomes multicast-capable with a
	// multicast route (a one-machine LAN), and a second node starts on it.
	n.ip(ns, "link", "set", "lo", "multicast", "on")
	n.ip(ns, "route", "add", "224.0.0.0/4", "dev", "lo")
	ben := &natMember{name: "ben", ns: ns, home: t.TempDir()}
	ben.proc = startInNetns(t, "ben", ns, ben.home, nil, bin, "daemon", "--name", "ben")
	poll(t, 30*time.Second, "ben's status", func() (bool, string) {
		s, ok := ben.status(t, bin)
		ben.id = s.ID
		return ok && s.ID != "", ben.proc.stderr.String()
	})
	arrived := time.Now()
	poll(t, 30*time.Second, "ann and ben connected by mDNS", func() (bool, string) {
		if ann.proc.exited() {
			t.Fatalf("ann exited: %v", ann.proc.err)
		}
		pa, pb := ann.peers(t, bin), ben.peers(t, bin)
		a, okA := pa[ben.id]
		b, okB := pb[ann.id]
		return okA && okB && (a.Via == "mdns" || b.Via == "mdns") && a.Path == "lan",
			fmt.Sprintf("ann: %+v, ben: %+v", pa, pb)
	})
	t.Logf("ann (started offline) and ben connected by mDNS %v after the network came up", time.Since(arrived).Round(time.Millisecond))
}

// TestRelayThroughHTTPSOnlyFirewall: a relay on the "internet" listens on
// TCP 4001, QUIC 4001 and WebSocket-over-TLS on 443 (self-signed certificate
// made at start) and prints its bridge line. Two members each sit behind a
// censoring firewall: only new outgoing TCP connections to port 443 pass, and
// nothing comes in unasked. Given only the bridge line, each reaches the
// relay over /tls/ws on 443 (the TCP and QUIC addresses are dropped), finds
// itself unreachable, reserves a slot, and the two chat through the relay.
func TestRelayThroughHTTPSOnlyFirewall(t *testing.T) {
	hostileTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	begin := time.Now()
	n := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	inet := n.add("winet")
	n.ip(inet, "link", "add", "br0", "type", "bridge")
	n.ip(inet, "addr", "add", natRelayIP+"/24", "dev", "br0")
	n.ip(inet, "link", "set", "br0", "up")

	relay := startInNetns(t, "relay", inet, t.TempDir(), nil, bin, "relay", "--print-bridge",
		"--listen", "/ip4/0.0.0.0/tcp/443/tls/ws",
		"--listen", "/ip4/0.0.0.0/tcp/4001",
		"--listen", "/ip4/0.0.0.0/udp/4001/quic-v1")
	var bridge string
	poll(t, 30*time.Second, "the relay's bridge line", func() (bool, string) {
		if relay.exited() {
			t.Fatalf("relay exited: %v\n%s", relay.err, relay.stderr.String())
		}
		bridge = strings.TrimSpace(relay.stdout.String())
		return strings.Contains(bridge, "/p2p/"), relay.stdout.String()
	})
	if strings.Contains(bridge, "\n") || !strings.Contains(bridge, "/ip4/"+natRelayIP+"/tcp/443/") {
		t.Fatalf("bridge line %q: want one line with the relay's 443 address", bridge)
	}
	_, relayID, _ := strings.Cut(strings.Split(bridge, ",")[0], "/p2p/")
	t.Logf("bridge line: %s", bridge)

	var members []*natMember
	for i, name := range []string{"alice", "bob"} {
		m := &natMember{name: name, ip: fmt.Sprintf("%s%d", natPublicNet, 20+i), home: t.TempDir()}
		m.ns = n.add(name)
		veth := "w" + name
		n.ip(m.ns, "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns", inet)
		n.ip(inet, "link", "set", veth, "master", "br0")
		n.ip(inet, "link", "set", veth, "up")
		n.ip(m.ns, "addr", "add", m.ip+"/24", "dev", "eth0")
		n.ip(m.ns, "link", "set", "eth0", "up")
		for k, rule := range [][]string{
			{"iptables", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"},
			{"iptables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"},
			{"iptables", "-P", "OUTPUT", "DROP"},
			{"iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"iptables", "-P", "INPUT", "DROP"},
		} {
			if _, err := n.exec(m.ns, rule...); err != nil {
				if i == 0 && k == 0 {
					natUnavailable(t, "iptables cannot add a rule in a namespace here: %v", err)
				}
				t.Fatal(err)
			}
		}
		m.proc = startInNetns(t, name, m.ns, m.home, nil, bin, "daemon", "--name", name, "--mdns=false", "--bootstrap", bridge)
		members = append(members, m)
	}
	alice, bob := members[0], members[1]

	// Each member reaches the relay over /tls/ws only, finds itself
	// unreachable (AutoNAT) and reserves a relay slot.
	poll(t, 90*time.Second, "every member connected to the relay over tls/ws on 443, private, with a relay address", func() (bool, string) {
		var state []string
		all := true
		for _, m := range members {
			if m.proc.exited() {
				t.Fatalf("%s exited: %v\n%s", m.name, m.proc.err, m.proc.stderr.String())
			}
			s, ok := m.status(t, bin)
			m.id = s.ID
			if !ok { // the daemon's API is not up yet: peers would fail
				all = false
				state = append(state, m.name+": not answering yet")
				continue
			}
			rp, connected := m.peers(t, bin)[relayID]
			overTLSWS := connected && len(rp.Addrs) > 0 && !slices.ContainsFunc(rp.Addrs, func(a string) bool {
				return !strings.Contains(a, "/tcp/443/") || !(strings.Contains(a, "/wss") || strings.Contains(a, "/tls/ws"))
			})
			circuit := slices.ContainsFunc(s.Addrs, func(a string) bool { return strings.Contains(a, "/p2p/"+relayID+"/p2p-circuit") })
			all = all && ok && overTLSWS && s.Reachability == "private" && circuit
			state = append(state, fmt.Sprintf("%s: %s relay conn %v, addrs %v", m.name, s.Reachability, rp.Addrs, s.Addrs))
		}
		return all, strings.Join(state, "\n")
	})
	t.Logf("both members on the relay over tls/ws after %v", time.Since(begin).Round(time.Millisecond))

	const group = "Censored"
	alice.mustCLI(t, bin, "group", "create", group)
	code := strings.TrimSpace(alice.mustCLI(t, bin, "group", "invite", group))
	bob.mustCLI(t, bin, "group", "join", code)
	alice.mustCLI(t, bin, "send", group, "hello from alice")
	bob.mustCLI(t, bin, "send", group, "hello from bob")
	poll(t, 60*time.Second, "both messages on both members", func() (bool, string) {
		ha, hb := alice.history(t, bin, group), bob.history(t, bin, group)
		both := []string{"hello from alice", "hello from bob"}
		return hasTexts(ha, both...) && hasTexts(hb, both...), fmt.Sprintf("alice %v\nbob %v", texts(ha), texts(hb))
	})
	p, ok := alice.peers(t, bin)[bob.id]
	if !ok || p.Path != "relayed" {
		t.Errorf("alice -> bob: %+v (connected %v), want relayed", p, ok)
	}
	t.Logf("alice and bob chatted through the relay after %v; alice -> bob %s %v", time.Since(begin).Round(time.Millisecond), p.Path, p.Addrs)
}

// hostileTools is natTools, except that with CI=true a run without root
// fails instead of skipping.
func hostileTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "true" {
		t.Fatal("CI=true but this network namespace test cannot run: needs root")
	}
	natTools(t)
}
