package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The syncer syncs every memtable log present, opens a new one when Badger
// starts it, and lets go of one Badger has deleted.
func TestLogSyncerFollowsLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("log"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("00001.mem")
	write("00002.mem")
	write("000001.sst") // not a log
	l := newLogSyncer(dir)
	defer l.close()
	if n, err := l.sync(); err != nil || n != 2 {
		t.Fatalf("sync = %d, %v; want the 2 logs", n, err)
	}
	if err := os.Remove(filepath.Join(dir, "00001.mem")); err != nil { // flushed
		t.Fatal(err)
	}
	write("00003.mem") // a new memtable
	if n, err := l.sync(); err != nil || n != 2 {
		t.Fatalf("sync after a flush and a new memtable = %d, %v; want 2", n, err)
	}
	if len(l.files) != 2 || l.files[filepath.Join(dir, "00001.mem")] != nil {
		t.Fatalf("open logs: %v; want 00002 and 00003 only", l.files)
	}
	// The listing reads the directory through a handle kept open (rewound
	// above, or 00003 would be missing); one that fails gives way to Glob,
	// and the next sync opens the directory again.
	if l.dirFile == nil {
		t.Fatal("the directory is not kept open for listing")
	}
	l.dirFile.Close()
	if n, err := l.sync(); err != nil || n != 2 {
		t.Fatalf("sync with a broken directory handle = %d, %v; want 2", n, err)
	}
	write("00004.mem")
	if n, err := l.sync(); err != nil || n != 3 || l.dirFile == nil {
		t.Fatalf("sync after the fallback = %d, %v (directory open: %v); want 3", n, err, l.dirFile != nil)
	}
	if n, err := newLogSyncer("").sync(); err != nil || n != 0 {
		t.Fatalf("in-memory sync = %d, %v; want nothing", n, err)
	}
}

// A durable append (our own messages) and the background sync of received
// ones both go through the log syncer, not Badger's Sync alone.
func TestDurableWritesSyncEveryLog(t *testing.T) {
	s := openDir(t, t.TempDir())
	defer s.Close()
	if s.logs == nil {
		t.Fatal("an on-disk store has no log syncer")
	}
	g := gidOf("logs")
	before := s.logs.runs.Load()
	if _, err := s.Append(context.Background(), mkMsg(g, 1, "alice", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if s.logs.runs.Load() == before {
		t.Fatal("a durable append did not sync the memtable logs")
	}
	if n, err := s.logs.sync(); err != nil || n < 1 {
		t.Fatalf("sync = %d, %v; want at least the current memtable's log", n, err)
	}
	if openMem(t).logs != nil {
		t.Fatal("an in-memory store has a log syncer")
	}
}
