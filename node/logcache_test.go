package node

import (
	"testing"

	"github.com/parley-chat/parley/store"
)

// The replayed membership log is reused until the stored ops change, and a
// new op (a promotion, here) is seen at once.
func TestStoredLogCachedUntilOpsChange(t *testing.T) {
	ctx := t.Context()
	a := newTestNode(t, "a", t.TempDir())
	defer a.stop()
	gi, err := a.CreateGroup(ctx, "cache", false)
	if err != nil {
		t.Fatal(err)
	}
	gid := store.GroupID(a.groupsForTest(gi.ID))
	first := a.Local.storedLog(gid)
	if first == nil {
		t.Fatal("no stored log for a membership group")
	}
	if again := a.Local.storedLog(gid); again != first {
		t.Error("the log was replayed again with no new op")
	}
	if err := a.RenameGroup(ctx, gi.ID, "renamed"); err != nil {
		t.Fatal(err)
	}
	after := a.Local.storedLog(gid)
	if after == first {
		t.Fatal("a new op did not replace the cached log")
	}
	if got := after.State().Name(); got != "renamed" {
		t.Errorf("group name from the log %q, want %q", got, "renamed")
	}
	// Only the new op was added, into a copy: the earlier log is as it was
	// (a reader may still hold it), and the grown one equals a full replay.
	if first.Len() != 1 || first.State().Name() != "cache" {
		t.Errorf("the earlier log changed: %d ops, name %q", first.Len(), first.State().Name())
	}
	fresh := NewLocal(a.st, a.ID()).storedLog(gid)
	if fresh.Len() != after.Len() || fresh.State().Digest() != after.State().Digest() {
		t.Errorf("grown log (%d ops) differs from a full replay (%d ops)", after.Len(), fresh.Len())
	}
}
