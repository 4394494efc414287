package envelope

import (
	"fmt"
	"testing"
	"time"
)

func TestRendezvousNamespace(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if first, again := RendezvousNS(a, 7), RendezvousNS(a, 7); first != again {
		t.Fatal("not deterministic")
	}
	if RendezvousNS(a, 7) == RendezvousNS(a, 8) || RendezvousNS(a, 7) == RendezvousNS(b, 7) {
		t.Fatal("namespace does not depend on epoch and secret")
	}
	keys, _ := DeriveKeys(a)
	ns := RendezvousNS(a, 7)
	for _, leak := range []string{keys.Topic[len("/parley/1/g/"):], fmt.Sprintf("%x", keys.ID[:])} {
		if len(leak) > 8 && contains(ns, leak[:8]) {
			t.Fatalf("namespace %q shares bytes with a group identifier", ns)
		}
	}
	day := time.Date(2030, 1, 2, 23, 59, 59, 0, time.UTC)
	if RendezvousEpochOf(day)+1 != RendezvousEpochOf(day.Add(time.Second)) {
		t.Fatal("epoch does not roll over at midnight UTC")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
