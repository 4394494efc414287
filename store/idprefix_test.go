package store

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestIDsWithPrefixReadsOneGroup(t *testing.T) {
	s := openMem(t)
	g, other := gidOf("prefix"), gidOf("other")
	var msgs []Message
	for i := uint64(1); i <= 40; i++ {
		msgs = append(msgs, mkMsg(g, i, "alice", i, i))
	}
	mustAppend(t, s, msgs...)
	mustAppend(t, s, mkMsg(other, 1, "bob", 1, 1))
	m := msgs[7]
	got, err := s.IDsWithPrefix(g, hex.EncodeToString(m.ID[:2]), 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, id := range got {
		if !bytes.HasPrefix(id[:], m.ID[:2]) {
			t.Fatalf("%x does not start with %x", id, m.ID[:2])
		}
		found = found || id == m.ID
	}
	if !found {
		t.Fatalf("%x not among %x", m.ID, got)
	}
	if got, _ := s.IDsWithPrefix(g, hex.EncodeToString(m.ID[:]), 100); len(got) != 1 || got[0] != m.ID {
		t.Fatalf("full id: %x", got)
	}
	if got, _ := s.IDsWithPrefix(g, "", 5); len(got) != 5 {
		t.Fatalf("limit: %d ids", len(got))
	}
	if got, _ := s.IDsWithPrefix(g, "", 1000); len(got) != 40 {
		t.Fatalf("another group's ids leak in: %d", len(got))
	}
}
