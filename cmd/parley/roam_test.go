//go:build linux

package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRoamAddressChange (issue 15, roaming): two members chat on a LAN (a
// bridge namespace, one namespace per member, daemons with default flags:
// mDNS on, TCP and QUIC on all interfaces). Then ben's address changes
// inside his namespace (`ip addr del` + `ip addr add`, as a DHCP renew or a
// Wi-Fi roam does): his connection to ann is dead but nothing closes it.
// Messages sent by both right after the change must reach the other side,
// and ann must be connected to ben's new address only, within 10 s of the
// change.
//
// The 10 s is the bound and the poll's deadline, not a performance
// assertion: the test waits at most that long for the condition and logs
// the time it actually took.
//
// Two runs: TCP only, where the old connection is dead and must be noticed
// and replaced (ann must end up connected to ben's new address only), and the
// default TCP+QUIC listeners, where the QUIC connection may survive by QUIC's
// own connection migration (ann's view of its remote address then stays the
// old one, so only the messages are checked).
func TestRoamAddressChange(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testRoam(t, true) })
	t.Run("default", func(t *testing.T) { testRoam(t, false) })
}

func testRoam(t *testing.T, tcpOnly bool) {
	hostileTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	n := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	lan := n.add("lan")
	n.ip(lan, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.ip(lan, "link", "set", "br0", "up")
	const net = "10.77.0."
	ann := &natMember{name: "ann", ip: net + "2", home: t.TempDir()}
	ben := &natMember{name: "ben", ip: net + "3", home: t.TempDir()}
	for _, m := range []*natMember{ann, ben} {
		m.ns = n.add(m.name)
		n.ip(m.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "v"+m.name, "netns", lan)
		n.ip(lan, "link", "set", "v"+m.name, "master", "br0")
		n.ip(lan, "link", "set", "v"+m.name, "up")
		n.ip(m.ns, "addr", "add", m.ip+"/24", "dev", "eth0")
		n.ip(m.ns, "link", "set", "eth0", "multicast", "on")
		n.ip(m.ns, "link", "set", "eth0", "up")
		n.ip(m.ns, "route", "add", "224.0.0.0/4", "dev", "eth0") // mDNS
		args := []string{"daemon", "--name", m.name, "--log-level", "debug"}
		if tcpOnly {
			args = append(args, "--listen", "/ip4/0.0.0.0/tcp/4301")
		}
		m.proc = startInNetns(t, m.name, m.ns, m.home, nil, bin, args...)
	}
	for _, m := range []*natMember{ann, ben} {
		poll(t, 30*time.Second, m.name+"'s API", func() (bool, string) {
			if m.proc.exited() {
				t.Fatalf("%s exited: %v\n%s", m.name, m.proc.err, m.proc.stderr.String())
			}
			s, ok := m.status(t, bin)
			m.id = s.ID
			return ok && s.ID != "", "not yet"
		})
	}
	const group = "Roam"
	ann.mustCLI(t, bin, "group", "create", group)
	code := strings.TrimSpace(ann.mustCLI(t, bin, "group", "invite", group))
	ben.mustCLI(t, bin, "group", "join", code)
	ann.mustCLI(t, bin, "send", group, "before, from ann")
	ben.mustCLI(t, bin, "send", group, "before, from ben")
	poll(t, 30*time.Second, "chat on the LAN before the change", func() (bool, string) {
		a, b := ann.history(t, bin, group), ben.history(t, bin, group)
		pa := ann.peers(t, bin)[ben.id]
		return hasTexts(a, "before, from ben") && hasTexts(b, "before, from ann") && len(pa.Addrs) > 0,
			fmt.Sprintf("ann: %v\nben: %v\nann -> ben: %+v", a, b, pa)
	})
	t.Logf("before: ann -> ben %+v", ann.peers(t, bin)[ben.id])

	// ben roams: his old address disappears and a new one appears.
	newIP := net + "13"
	n.ip(ben.ns, "addr", "del", ben.ip+"/24", "dev", "eth0")
	n.ip(ben.ns, "addr", "add", newIP+"/24", "dev", "eth0")
	n.ip(ben.ns, "route", "replace", "224.0.0.0/4", "dev", "eth0") // deleting the address may drop it
	changed := time.Now()
	ann.mustCLI(t, bin, "send", group, "after, from ann")
	ben.mustCLI(t, bin, "send", group, "after, from ben")
	var annBen natPeer
	poll(t, 10*time.Second, "messages both ways and ann on ben's new address within 10 s of the change", func() (bool, string) {
		a, b := ann.history(t, bin, group), ben.history(t, bin, group)
		p, ok := ann.peers(t, bin)[ben.id]
		annBen = p
		onNew := ok && len(p.Addrs) > 0 && !slices.ContainsFunc(p.Addrs, func(a string) bool { return ipOf(a) != newIP })
		if !tcpOnly {
			onNew = ok
		}
		return hasTexts(a, "after, from ben") && hasTexts(b, "after, from ann") && onNew,
			fmt.Sprintf("ann: %v\nben: %v\nann -> ben: %+v (connected %v)", a, b, p, ok)
	})
	t.Logf("after ben's address changed (to %s), messages flowed both ways after %v (ann -> ben now %s %v)",
		newIP, time.Since(changed).Round(time.Millisecond), annBen.Path, annBen.Addrs)
}
