package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/node"
)

// Fast first contact: an invite made the moment the inviter's node answers
// (before anything has settled behind its NAT) still carries a relay
// address, and the joiner, behind another NAT, exchanges its first messages
// with the inviter within 20 s of `group join` (issue 15: it took about a
// minute when the invite had only private addresses).
func TestEarlyInviteFirstContact(t *testing.T) {
	natTools(t)
	removeStaleNATNetns(t)
	bin := parleyBinary(t)
	net := &natNet{t: t, prefix: fmt.Sprintf("%s%d-", natNSPrefix, os.Getpid())}
	inet := net.add("inet")
	net.ip(inet, "link", "add", "br0", "type", "bridge")
	net.ip(inet, "addr", "add", natRelayIP+"/24", "dev", "br0")
	net.ip(inet, "link", "set", "br0", "up")
	r1 := net.router(inet, 1, false)
	r2 := net.router(inet, 2, false)
	alice := net.member(r1, "alice", 2, 4201)
	bob := net.member(r2, "bob", 2, 4202)

	relay := startInNetns(t, "relay", inet, t.TempDir(), nil, bin, "relay",
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", natRelayPort))
	var relayAddr string
	poll(t, 30*time.Second, "the relay's address", func() (bool, string) {
		if relay.exited() {
			t.Fatalf("relay exited: %v\n%s", relay.err, relay.stderr.String())
		}
		for _, l := range strings.Fields(relay.stdout.String()) {
			if strings.HasPrefix(l, "/ip4/"+natRelayIP+"/") {
				relayAddr = l
			}
		}
		return relayAddr != "", relay.stdout.String()
	})
	_, relayID, _ := strings.Cut(relayAddr, "/p2p/")
	for _, m := range []*natMember{alice, bob} {
		m.proc = startInNetns(t, m.name, m.ns, m.home, nil, bin, "daemon", "--name", m.name, "--mdns=false",
			"--listen", fmt.Sprintf("/ip4/%s/tcp/%d", m.ip, m.port), "--bootstrap", relayAddr)
	}
	// No waiting for AutoNAT or the relay slot: invite as soon as alice answers.
	poll(t, 30*time.Second, "alice's API", func() (bool, string) {
		s, ok := alice.status(t, bin)
		return ok && s.ID != "", "not yet"
	})
	const group = "Early"
	alice.mustCLI(t, bin, "group", "create", group)
	code := strings.TrimSpace(alice.mustCLI(t, bin, "group", "invite", group))
	inv, err := node.DecodeInvite(code)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(inv.Inviter.Addrs, func(a ma.Multiaddr) bool { return strings.Contains(a.String(), relayID+"/p2p-circuit") }) {
		t.Fatalf("an invite made right after start has no relay address: %v", inv.Inviter.Addrs)
	}
	poll(t, 30*time.Second, "bob's API", func() (bool, string) {
		s, ok := bob.status(t, bin)
		bob.id = s.ID
		return ok && s.ID != "", "not yet"
	})
	joined := time.Now()
	bob.mustCLI(t, bin, "group", "join", code)
	alice.mustCLI(t, bin, "send", group, "welcome bob")
	bob.mustCLI(t, bin, "send", group, "hi alice")
	poll(t, 20*time.Second, "first messages both ways within 20 s of the join", func() (bool, string) {
		a, b := alice.history(t, bin, group), bob.history(t, bin, group)
		return hasTexts(a, "hi alice") && hasTexts(b, "welcome bob"), fmt.Sprintf("alice: %v\nbob: %v", a, b)
	})
	t.Logf("first contact %v after the join", time.Since(joined).Round(time.Millisecond))
}
