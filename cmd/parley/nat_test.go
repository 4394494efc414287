//go:build linux

package main

// TestNATTraversal: members in different NATed networks find each other
// through a `parley relay` and chat, each node a real parley process in a
// network namespace the test builds:
//
//	                        inet (the "internet": bridge br0, 11.0.113.0/24)
//	                        parley relay on 11.0.113.1 (bootstrap, DHT server, circuit relay v2)
//	          ┌───────────────────────┼────────────────────────┐
//	     r1 11.0.113.11          r2 11.0.113.12           r3 11.0.113.13
//	     NAT, home firewall      NAT, home firewall       NAT, random ports (symmetric)
//	     192.168.1.0/24          192.168.2.0/24           192.168.3.0/24
//	      │          │                │                        │
//	    alice       amy              bob                     carol
//	    .1.2:4101   .1.3:4102        .2.2:4103               .3.2:4104
//
// Every member runs `parley daemon` with mDNS on, listening on its private
// address, with only the relay as bootstrap peer. The routers masquerade
// (iptables MASQUERADE, which keeps source ports when it can) and, like home
// routers, drop unsolicited packets from the WAN instead of answering them
// with a reset or an ICMP error; r3 picks a random port for every flow
// (--random-fully), a symmetric NAT, which no hole punch gets through.
// Expected, and asserted, for every pair of members, as each side's
// `parley peers --json` reports it:
//
//	alice-amy                      lan           (mDNS on their shared LAN)
//	alice-bob, amy-bob             hole-punched  (DCUtR over QUIC; the direct
//	                                              connection's address is the
//	                                              other side's router)
//	alice-carol, amy-carol,        relayed       (only /p2p-circuit connections)
//	bob-carol
//
// and mDNS does not cross a router: nobody sees a peer of another LAN as a
// LAN peer or by a private address. alice invites the others; pairs that no
// invite links (amy-bob, bob-carol, ...) meet by the group's DHT rendezvous.
//
// Addresses on the "internet" side: libp2p treats the documentation ranges
// (192.0.2/24, 198.51.100/24, 203.0.113/24) like private ones: AutoNAT, the
// relay's reservation addresses and DCUtR ignore non-public addresses, so with
// those nobody would get a reservation or try a hole punch. 11.0.113.0/24 is an
// ordinary unicast block to libp2p (manet.IsPublicAddr). It exists only on
// veths inside the test's namespaces: no namespace here has a link to the
// machine's own network, and neither the inet namespace nor the routers have
// a default route (checked below), so nothing can leave.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	natNSPrefix  = "pnat-"     // namespace names: pnat-<pid>-<role>
	natPublicNet = "11.0.113." // see the comment above
	natRelayIP   = natPublicNet + "1"
	natRelayPort = 4001
	natCmdLimit  = 30 * time.Second
)

// natTools skips the test unless it can build namespaces with NAT: root,
// iproute2's ip, iptables, sysctl. With CI=true a missing tool (as root) fails
// instead: CI must run it (.ci/run installs iptables).
func natTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("NAT test skipped: needs root to create network namespaces and NAT rules (CI runs it as root)")
	}
	for _, tool := range []string{"ip", "iptables", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			natUnavailable(t, "%s not found (%v): apt-get install iproute2 iptables procps", tool, err)
		}
	}
}

func natUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the NAT test cannot run: %s", msg)
	}
	t.Skipf("NAT test skipped: %s (with CI=true this fails instead)", msg)
}

// sh runs a command with a bounded time and returns its combined output.
func sh(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), natCmdLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func mustSh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := sh(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// killNetnsProcs kills what still runs in namespace ns (processes this test,
// or an aborted run of it, started there) and waits briefly for them to go.
func killNetnsProcs(ns string) {
	out, _ := sh("ip", "netns", "pids", ns)
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			pids = append(pids, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// removeStaleNATNetns deletes namespaces left by runs of this test whose
// process is gone (killed mid-run, say): pnat-<pid>-... with no such pid.
func removeStaleNATNetns(t *testing.T) {
	t.Helper()
	out, err := sh("ip", "netns", "list")
	if err != nil {
		t.Logf("list namespaces: %v", err)
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], natNSPrefix) {
			continue
		}
		name := f[0]
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, natNSPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // not ours to judge, or its test still runs
		}
		killNetnsProcs(name)
		if _, err := sh("ip", "netns", "del", name); err != nil {
			t.Logf("remove stale namespace: %v", err)
		} else {
			t.Logf("removed stale namespace %s", name)
		}
	}
}

// natNet is the test's set of namespaces.
type natNet struct {
	t      *testing.T
	prefix string
}

// add creates namespace prefix+role with loopback up; it is deleted (after
// whatever still runs in it is killed) when the test ends.
func (n *natNet) add(role string) string {
	t := n.t
	t.Helper()
	name := n.prefix + role
	if out, err := sh("ip", "netns", "add", name); err != nil {
		if strings.Contains(out, "Operation not permitted") || strings.Contains(out, "Permission denied") {
			natUnavailable(t, "cannot create network namespaces here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killNetnsProcs(name)
		if _, err := sh("ip", "netns", "del", name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	n.ip(name, "link", "set", "lo", "up")
	return name
}

// ip runs `ip -n ns args...`.
func (n *natNet) ip(ns string, args ...string) {
	n.t.Helper()
	mustSh(n.t, "ip", append([]string{"-n", ns}, args...)...)
}

// exec runs a command inside ns.
func (n *natNet) exec(ns string, args ...string) (string, error) {
	return sh("ip", append([]string{"netns", "exec", ns}, args...)...)
}

type natRouter struct {
	ns, wanIP, lanNet string // lanNet: "192.168.1."
	symmetric         bool
}

type natMember struct {
	name   string
	ns     string
	ip     string // private address
	port   int
	router *natRouter
	home   string
	proc   *nsProcess
	id     string // peer id
}

// router adds a NAT router: WAN port on the inet bridge, a LAN bridge, IP
// forwarding, masquerading and a home router's stateful firewall.
func (n *natNet) router(inet string, i int, symmetric bool) *natRouter {
	t := n.t
	t.Helper()
	r := &natRouter{wanIP: natPublicNet + strconv.Itoa(10+i), lanNet: fmt.Sprintf("192.168.%d.", i), symmetric: symmetric}
	r.ns = n.add(fmt.Sprintf("r%d", i))
	port := fmt.Sprintf("r%d", i)
	// Both ends are made inside the test's namespaces: the machine's own
	// namespace gets no interface, address, route or rule.
	n.ip(r.ns, "link", "add", "wan0", "type", "veth", "peer", "name", port, "netns", inet)
	n.ip(inet, "link", "set", port, "master", "br0")
	n.ip(inet, "link", "set", port, "up")
	n.ip(r.ns, "addr", "add", r.wanIP+"/24", "dev", "wan0")
	n.ip(r.ns, "link", "set", "wan0", "up")
	n.ip(r.ns, "link", "add", "lan0", "type", "bridge", "mcast_snooping", "0")
	n.ip(r.ns, "addr", "add", r.lanNet+"1/24", "dev", "lan0")
	n.ip(r.ns, "link", "set", "lan0", "up")
	if _, err := n.exec(r.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}
	masq := []string{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"}
	if symmetric {
		masq = append(masq, "--random-fully")
	}
	rules := [][]string{
		masq,
		// A home router's firewall: replies come in, nothing else does, and
		// what is refused is dropped silently. Without it, Linux answers a
		// punch packet that arrives before the router's own outgoing one with
		// a reset or an ICMP error, and the conntrack entry this leaves makes
		// the outgoing packet's mapping take another port.
		{"iptables", "-A", "INPUT", "-i", "wan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"iptables", "-A", "INPUT", "-i", "wan0", "-j", "DROP"},
		{"iptables", "-A", "FORWARD", "-i", "wan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"iptables", "-A", "FORWARD", "-i", "wan0", "-j", "DROP"},
	}
	for k, rule := range rules {
		if _, err := n.exec(r.ns, rule...); err != nil {
			if i == 1 && k == 0 {
				// The run's first rule: a kernel or container without
				// netfilter NAT is a missing tool, not a failing test.
				natUnavailable(t, "iptables cannot add a NAT rule in a namespace here: %v", err)
			}
			t.Fatal(err)
		}
	}
	return r
}

// member adds a member namespace on r's LAN.
func (n *natNet) member(r *natRouter, name string, host, port int) *natMember {
	n.t.Helper()
	m := &natMember{name: name, ip: r.lanNet + strconv.Itoa(host), port: port, router: r, home: n.t.TempDir()}
	m.ns = n.add(name)
	veth := "v" + name
	n.ip(m.ns, "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns", r.ns)
	n.ip(r.ns, "link", "set", veth, "master", "lan0")
	n.ip(r.ns, "link", "set", veth, "up")
	n.ip(m.ns, "addr", "add", m.ip+"/24", "dev", "eth0")
	n.ip(m.ns, "link", "set", "eth0", "multicast", "on")
	n.ip(m.ns, "link", "set", "eth0", "up")
	n.ip(m.ns, "route", "add", "default", "via", r.lanNet+"1")
	n.ip(m.ns, "route", "add", "224.0.0.0/4", "dev", "eth0") // mDNS
	return m
}

// nsProcess is a parley process run with `ip netns exec` (which execs the
// program itself: the pid is parley's).
type nsProcess struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startInNetns(t *testing.T, name, ns, home string, extraEnv []string, bin string, args ...string) *nsProcess {
	t.Helper()
	p := &nsProcess{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	p.cmd.Env = append(env(home), extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output (last 12 KB):\n%s%s", name, tail(p.stdout.String(), 2<<10), tail(p.stderr.String(), 10<<10))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (p *nsProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cli runs a parley command inside m's namespace (its control API listens
// on that namespace's loopback).
func (m *natMember) cli(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natCmdLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", m.ns, bin}, args...)...)
	return runCmd(t, cmd, m.home, fmt.Sprintf("%s: parley %v", m.name, args))
}

func (m *natMember) mustCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	r := m.cli(t, bin, args...)
	if r.code != 0 {
		t.Fatalf("%s: parley %v: exit %d\nstdout: %s\nstderr: %s", m.name, args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

type natStatus struct {
	ID           string   `json:"id"`
	Addrs        []string `json:"addrs"`
	Reachability string   `json:"reachability"`
}

type natPeer struct {
	ID    string   `json:"id"`
	Via   string   `json:"via"`
	Path  string   `json:"path"`
	Addrs []string `json:"addrs"`
}

func (m *natMember) status(t *testing.T, bin string) (natStatus, bool) {
	t.Helper()
	var s natStatus
	r := m.cli(t, bin, "status", "--json")
	if r.code != 0 {
		return s, false
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%s: status --json: %v\n%s", m.name, err, r.stdout)
	}
	return s, true
}

func (m *natMember) peers(t *testing.T, bin string) map[string]natPeer {
	t.Helper()
	var ps []natPeer
	out := m.mustCLI(t, bin, "peers", "--json")
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("%s: peers --json: %v\n%s", m.name, err, out)
	}
	byID := map[string]natPeer{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	return byID
}

func (m *natMember) history(t *testing.T, bin, group string) []message {
	t.Helper()
	r := m.cli(t, bin, "history", group, "--json")
	if r.code != 0 {
		return nil
	}
	var ms []message
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("%s: history --json: %v\n%s", m.name, err, r.stdout)
	}
	return ms
}

func isCircuitAddr(a string) bool { return strings.Contains(a, "/p2p-circuit") }

// ipOf returns the IPv4 address of a /ip4/... multiaddr ("" otherwise).
func ipOf(a string) string {
	f := strings.Split(a, "/")
	if len(f) > 2 && f[1] == "ip4" {
		return f[2]
	}
	return ""
}

// checkPath reports what is wrong (or "") with how from reaches to, given
// the path this topology must produce.
func checkPath(from, to *natMember, p natPeer, ok bool, want string) string {
	if !ok {
		return "not connected"
	}
	if p.Path != want {
		return fmt.Sprintf("path %q, want %q (via %s, addrs %v)", p.Path, want, p.Via, p.Addrs)
	}
	var direct []string
	for _, a := range p.Addrs {
		if !isCircuitAddr(a) {
			direct = append(direct, ipOf(a))
		}
	}
	switch want {
	case "lan":
		if p.Via != "mdns" || len(direct) == 0 || slices.ContainsFunc(direct, func(ip string) bool { return ip != to.ip }) {
			return fmt.Sprintf("LAN peer not by mDNS on its private address %s: via %s, addrs %v", to.ip, p.Via, p.Addrs)
		}
	case "hole-punched":
		// The direct connection runs between the routers' public
		// addresses: the NAT was traversed, not routed around.
		if len(direct) == 0 || slices.ContainsFunc(direct, func(ip string) bool { return ip != to.router.wanIP }) {
			return fmt.Sprintf("hole-punched, but direct addresses %v are not %s's router %s", p.Addrs, to.name, to.router.wanIP)
		}
	case "relayed":
		if len(direct) != 0 {
			return fmt.Sprintf("relayed, but has direct addresses: %v", p.Addrs)
		}
	}
	return ""
}

func TestNATTraversal(t *testing.T) {
	natTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	begin := time.Now()

	// The namespaces.
	net := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	inet := net.add("inet")
	net.ip(inet, "link", "add", "br0", "type", "bridge")
	net.ip(inet, "addr", "add", natRelayIP+"/24", "dev", "br0")
	net.ip(inet, "link", "set", "br0", "up")
	r1 := net.router(inet, 1, false)
	r2 := net.router(inet, 2, false)
	r3 := net.router(inet, 3, true)
	alice := net.member(r1, "alice", 2, 4101)
	amy := net.member(r1, "amy", 3, 4102)
	bob := net.member(r2, "bob", 2, 4103)
	carol := net.member(r3, "carol", 2, 4104)
	members := []*natMember{alice, amy, bob, carol}
	for _, ns := range []string{inet, r1.ns, r2.ns, r3.ns} {
		if out := mustSh(t, "ip", "-n", ns, "route", "show", "default"); strings.TrimSpace(out) != "" {
			t.Fatalf("namespace %s has a default route: %s", ns, out)
		}
	}
	t.Logf("namespaces up in %v", time.Since(begin).Round(time.Millisecond))

	// The relay, on the "internet".
	relayHome := t.TempDir()
	relay := startInNetns(t, "relay", inet, relayHome, nil, bin, "relay",
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", natRelayPort),
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", natRelayPort))
	var relayAddrs []string
	poll(t, 30*time.Second, "the relay's public addresses", func() (bool, string) {
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

	// The members: mDNS on (the default), the relay as the only bootstrap
	// peer, given both its TCP and QUIC addresses as a user would copy them.
	for _, m := range members {
		args := []string{"daemon", "--name", m.name,
			"--listen", fmt.Sprintf("/ip4/%s/tcp/%d", m.ip, m.port),
			"--listen", fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", m.ip, m.port)}
		for _, a := range relayAddrs {
			args = append(args, "--bootstrap", a)
		}
		// libp2p's hole punching log, shown if the test fails.
		m.proc = startInNetns(t, m.name, m.ns, m.home, []string{"GOLOG_LOG_LEVEL=error,p2p-holepunch=debug"}, bin, args...)
	}

	// Each member finds itself behind a NAT (AutoNAT) and reserves a slot on
	// the relay (autorelay): its addresses then include a circuit address.
	poll(t, 60*time.Second, "every member private with a relay address", func() (bool, string) {
		var state []string
		all := true
		for _, m := range members {
			if m.proc.exited() {
				t.Fatalf("%s exited: %v\n%s", m.name, m.proc.err, m.proc.stderr.String())
			}
			s, ok := m.status(t, bin)
			m.id = s.ID
			circuit := slices.ContainsFunc(s.Addrs, func(a string) bool {
				return strings.Contains(a, "/p2p/"+relayID+"/p2p-circuit")
			})
			all = all && ok && s.Reachability == "private" && circuit
			state = append(state, fmt.Sprintf("%s: %s %v", m.name, s.Reachability, s.Addrs))
		}
		return all, strings.Join(state, "\n")
	})
	t.Logf("all members private with a relay reservation after %v", time.Since(begin).Round(time.Millisecond))

	// alice invites (the code carries her relay addresses). Each joiner's
	// join message reaches her before the next one joins, which leaves its
	// rendezvous record in the DHT time to be stored: a later joiner finds
	// the earlier ones there, across their NATs (nobody else looks again for
	// minutes once connected to a member).
	const group = "Crossing"
	alice.mustCLI(t, bin, "group", "create", group)
	code := strings.TrimSpace(alice.mustCLI(t, bin, "group", "invite", group))
	for _, m := range []*natMember{amy, bob, carol} {
		m.mustCLI(t, bin, "group", "join", code)
		poll(t, 30*time.Second, m.name+"'s join message on alice", func() (bool, string) {
			ms := alice.history(t, bin, group)
			return slices.ContainsFunc(ms, func(x message) bool { return x.Kind == "join" && x.Author == m.id }), fmt.Sprint(ms)
		})
	}

	// Everyone writes; everyone reads everyone.
	var want []string
	for _, m := range members {
		text := "hello from " + m.name
		m.mustCLI(t, bin, "send", group, text)
		want = append(want, text)
	}
	poll(t, 60*time.Second, "every message on every member", func() (bool, string) {
		var state []string
		all := true
		for _, m := range members {
			ms := m.history(t, bin, group)
			all = all && hasTexts(ms, want...)
			var got []string
			for _, x := range texts(ms) {
				got = append(got, x.Text)
			}
			state = append(state, fmt.Sprintf("%s: %q", m.name, got))
		}
		return all, strings.Join(state, "\n")
	})
	t.Logf("every message on every member after %v", time.Since(begin).Round(time.Millisecond))

	// How each member reaches each other one.
	wantPath := func(a, b *natMember) string {
		switch {
		case a.router == b.router:
			return "lan"
		case a.router.symmetric || b.router.symmetric:
			return "relayed"
		default:
			return "hole-punched"
		}
	}
	var table []string
	poll(t, 60*time.Second, "the expected path between every two members", func() (bool, string) {
		table = table[:0]
		var problems []string
		for _, m := range members {
			ps := m.peers(t, bin)
			for id, p := range ps {
				if id == relayID {
					continue
				}
				if !slices.ContainsFunc(members, func(o *natMember) bool { return o.id == id }) {
					problems = append(problems, fmt.Sprintf("%s: unknown peer %s %v", m.name, id, p.Addrs))
				}
			}
			if rp, ok := ps[relayID]; !ok || rp.Path != "direct" || rp.Via != "bootstrap" {
				problems = append(problems, fmt.Sprintf("%s: relay not a direct bootstrap peer: %+v", m.name, rp))
			}
			for _, o := range members {
				if o == m {
					continue
				}
				p, ok := ps[o.id]
				// mDNS stays on its LAN: no peer of another LAN is known
				// by mDNS or by a private address.
				if ok && o.router != m.router {
					if p.Via == "mdns" || p.Path == "lan" {
						problems = append(problems, fmt.Sprintf("%s sees %s (other LAN) as a LAN peer: %+v", m.name, o.name, p))
					}
					for _, a := range p.Addrs {
						if strings.HasPrefix(ipOf(a), "192.168.") {
							problems = append(problems, fmt.Sprintf("%s reaches %s (other LAN) at a private address: %s", m.name, o.name, a))
						}
					}
				}
				if msg := checkPath(m, o, p, ok, wantPath(m, o)); msg != "" {
					problems = append(problems, fmt.Sprintf("%s -> %s: %s", m.name, o.name, msg))
				}
				table = append(table, fmt.Sprintf("%-5s -> %-5s %-12s via %-6s %s", m.name, o.name, p.Path, p.Via, strings.Join(p.Addrs, " ")))
			}
		}
		return len(problems) == 0, strings.Join(problems, "\n") + "\n\n" + strings.Join(table, "\n")
	})
	t.Logf("paths, as each member's `parley peers --json` reports them (after %v):\n%s",
		time.Since(begin).Round(time.Millisecond), strings.Join(table, "\n"))

	// A message sent now, with the paths settled, still reaches everyone.
	bob.mustCLI(t, bin, "send", group, "bye from bob")
	carol.mustCLI(t, bin, "send", group, "bye from carol")
	poll(t, 30*time.Second, "the last messages on every member", func() (bool, string) {
		var state []string
		all := true
		for _, m := range members {
			ok := hasTexts(m.history(t, bin, group), "bye from bob", "bye from carol")
			all = all && ok
			state = append(state, fmt.Sprintf("%s: %v", m.name, ok))
		}
		return all, strings.Join(state, ", ")
	})
	for _, m := range members {
		if m.proc.exited() {
			t.Fatalf("%s exited: %v", m.name, m.proc.err)
		}
	}
	t.Logf("done in %v", time.Since(begin).Round(time.Millisecond))
}
