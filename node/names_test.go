package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/store"
)

// memberNames is cached; a rename stored after a cached read must show.
func TestMemberNamesFollowStoredRenames(t *testing.T) {
	st, err := store.Open("", store.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var g store.GroupID
	g[0] = 7
	ana := peer.ID("ana-peer")
	if err := st.PutMember(g, store.Member{Author: []byte(ana), DisplayName: "Ana"}); err != nil {
		t.Fatal(err)
	}
	l := NewLocal(st, peer.ID("self"))
	if got := l.memberNames(g)[ana]; got != "Ana" {
		t.Fatalf("first read: %q", got)
	}
	if err := st.PutMember(g, store.Member{Author: []byte(ana), DisplayName: "Ana B"}); err != nil {
		t.Fatal(err)
	}
	if got := l.memberNames(g)[ana]; got != "Ana B" {
		t.Fatalf("after the rename: %q, want the new name", got)
	}
}
