//go:build linux

package main

// TestBlockedPathFallsBackToRelay (issue 15): two members with public
// addresses, no NAT, whom AutoNAT calls public, but the path between them is
// dropped by the router, as a censor does; both reach the same `parley
// relay`. Each keeps a relay reservation although it believes itself public,
// and a dial that cannot go direct goes through the relay: they chat, and
// each sees the other as relayed.
//
//	              inet (router, no default route): parley relay on 11.0.113.1 (on lo)
//	              FORWARD: 11.0.113.66 <-> 11.0.113.130 dropped, nothing else
//	               ┌──────────────────────────┴───────────────────────────┐
//	  alice 11.0.113.66/26 (gw .65)                           bob 11.0.113.130/26 (gw .129)
//
// Helpers (natNet, startInNetns, poll, ...) are in nat_test.go and e2e_test.go.

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBlockedPathFallsBackToRelay(t *testing.T) {
	hostileTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	begin := time.Now()
	n := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	inet := n.add("binet")
	n.ip(inet, "addr", "add", natRelayIP+"/32", "dev", "lo")
	if _, err := n.exec(inet, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}

	alice := &natMember{name: "alice", ip: natPublicNet + "66", port: 4201, home: t.TempDir()}
	bob := &natMember{name: "bob", ip: natPublicNet + "130", port: 4202, home: t.TempDir()}
	members := []*natMember{alice, bob}
	for _, m := range members {
		gw := natPublicNet + strconv.Itoa(map[string]int{"alice": 65, "bob": 129}[m.name])
		m.ns = n.add("b" + m.name)
		veth := "b" + m.name
		n.ip(m.ns, "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns", inet)
		n.ip(inet, "addr", "add", gw+"/26", "dev", veth)
		n.ip(inet, "link", "set", veth, "up")
		n.ip(m.ns, "addr", "add", m.ip+"/26", "dev", "eth0")
		n.ip(m.ns, "link", "set", "eth0", "up")
		n.ip(m.ns, "route", "add", "default", "via", gw)
	}
	// The censor: the router forwards everything except between the two.
	for k, rule := range [][]string{
		{"iptables", "-A", "FORWARD", "-s", alice.ip, "-d", bob.ip, "-j", "DROP"},
		{"iptables", "-A", "FORWARD", "-s", bob.ip, "-d", alice.ip, "-j", "DROP"},
	} {
		if _, err := n.exec(inet, rule...); err != nil {
			if k == 0 {
				natUnavailable(t, "iptables cannot add a rule in a namespace here: %v", err)
			}
			t.Fatal(err)
		}
	}
	if out := mustSh(t, "ip", "-n", inet, "route", "show", "default"); strings.TrimSpace(out) != "" {
		t.Fatalf("namespace %s has a default route: %s", inet, out)
	}

	relay := startInNetns(t, "relay", inet, t.TempDir(), nil, bin, "relay",
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", natRelayPort),
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", natRelayPort))
	var relayAddrs []string
	poll(t, 30*time.Second, "the relay's addresses", func() (bool, string) {
		if relay.exited() {
			t.Fatalf("relay exited: %v\n%s", relay.err, relay.stderr.String())
		}
		relayAddrs = relayAddrs[:0]
		for _, l := range strings.Fields(relay.stdout.String()) {
			if strings.HasPrefix(l, "/ip4/"+natRelayIP+"/") {
				relayAddrs = append(relayAddrs, l)
			}
		}
		return len(relayAddrs) == 2, relay.stdout.String()
	})
	_, relayID, _ := strings.Cut(relayAddrs[0], "/p2p/")

	for _, m := range members {
		args := []string{"daemon", "--name", m.name, "--mdns=false",
			"--listen", fmt.Sprintf("/ip4/%s/tcp/%d", m.ip, m.port),
			"--listen", fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", m.ip, m.port)}
		for _, a := range relayAddrs {
			args = append(args, "--bootstrap", a)
		}
		m.proc = startInNetns(t, m.name, m.ns, m.home, nil, bin, args...)
	}

	// AutoNAT finds both public (the relay dials them back), and each
	// reserves a relay slot all the same: its addresses include a circuit.
	poll(t, 90*time.Second, "both members public, each with a relay address", func() (bool, string) {
		var state []string
		all := true
		for _, m := range members {
			if m.proc.exited() {
				t.Fatalf("%s exited: %v\n%s", m.name, m.proc.err, m.proc.stderr.String())
			}
			s, ok := m.status(t, bin)
			m.id = s.ID
			circuit := slices.ContainsFunc(s.Addrs, func(a string) bool { return strings.Contains(a, "/p2p/"+relayID+"/p2p-circuit") })
			all = all && ok && s.Reachability == "public" && circuit
			state = append(state, fmt.Sprintf("%s: %s %v", m.name, s.Reachability, s.Addrs))
		}
		return all, strings.Join(state, "\n")
	})
	t.Logf("both public with a relay address after %v", time.Since(begin).Round(time.Millisecond))

	const group = "Censored path"
	alice.mustCLI(t, bin, "group", "create", group)
	code := strings.TrimSpace(alice.mustCLI(t, bin, "group", "invite", group))
	bob.mustCLI(t, bin, "group", "join", code)
	alice.mustCLI(t, bin, "send", group, "hello from alice")
	bob.mustCLI(t, bin, "send", group, "hello from bob")
	both := []string{"hello from alice", "hello from bob"}
	poll(t, 60*time.Second, "both messages on both members", func() (bool, string) {
		ha, hb := alice.history(t, bin, group), bob.history(t, bin, group)
		return hasTexts(ha, both...) && hasTexts(hb, both...), fmt.Sprintf("alice %v\nbob %v", texts(ha), texts(hb))
	})
	t.Logf("alice and bob chatted after %v", time.Since(begin).Round(time.Millisecond))

	// Each side's view of the other: only /p2p-circuit connections (the
	// direct path is dropped, so no hole punch can upgrade it).
	poll(t, 30*time.Second, "each member sees the other as relayed", func() (bool, string) {
		var problems []string
		for _, pair := range [][2]*natMember{{alice, bob}, {bob, alice}} {
			m, o := pair[0], pair[1]
			p, ok := m.peers(t, bin)[o.id]
			if msg := checkPath(m, o, p, ok, "relayed"); msg != "" {
				problems = append(problems, fmt.Sprintf("%s -> %s: %s", m.name, o.name, msg))
			}
		}
		return len(problems) == 0, strings.Join(problems, "\n")
	})

	// The direct path was tried and dropped by the censor, not left alone.
	out := mustSh(t, "ip", "netns", "exec", inet, "iptables", "-L", "FORWARD", "-v", "-n", "-x")
	dropped := 0
	for _, m := range regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+DROP`).FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		dropped += k
	}
	if dropped == 0 {
		t.Errorf("no packet between alice and bob was dropped: the direct path was never tried\n%s", out)
	}

	// With the path settled, a new message still crosses.
	alice.mustCLI(t, bin, "send", group, "bye from alice")
	poll(t, 30*time.Second, "the last message on bob", func() (bool, string) {
		hb := bob.history(t, bin, group)
		return hasTexts(hb, "bye from alice"), fmt.Sprint(texts(hb))
	})
	t.Logf("done in %v (%d packets between alice and bob dropped by the router)", time.Since(begin).Round(time.Millisecond), dropped)
}
