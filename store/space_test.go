package store

import (
	"context"
	"errors"
	"testing"
)

// A store whose file system has less free space than its reserve refuses
// writes with ErrDiskFull, keeps serving reads, and says so.
func TestWritesRefusedBelowReserve(t *testing.T) {
	dir := t.TempDir()
	free, err := freeBytes(dir)
	if err != nil {
		t.Skip("free space unknown here:", err)
	}
	g := gidOf("full")
	s := openDir(t, dir)
	mustAppend(t, s, mkMsg(g, 1, "alice", 1, 1))
	if d := s.DiskSpace(); d.Full || d.Free <= 0 {
		t.Fatalf("disk space with room: %+v", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The same disk, with a reserve larger than what is free.
	s2, err := Open(dir, WithDiskReserve(free+1<<40))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if d := s2.DiskSpace(); !d.Full || !d.Low {
		t.Fatalf("disk space below the reserve: %+v", d)
	}
	if _, err := s2.Append(context.Background(), mkMsg(g, 2, "alice", 2, 2)); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append on a full disk: %v, want ErrDiskFull", err)
	}
	if err := s2.PutSetting("k", []byte("v")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("setting on a full disk: %v, want ErrDiskFull", err)
	}
	if h := history(t, s2, g, nil, 10); len(h) != 1 {
		t.Fatalf("history on a full disk: %d messages, want the 1 stored before", len(h))
	}
	if st := stats(t, s2, g); st.Count != 1 {
		t.Fatalf("count after a refused append: %d", st.Count)
	}
}
