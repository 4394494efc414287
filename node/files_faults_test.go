package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/parley-chat/parley/node/wirepb"
)

// A member that accepts file streams and never answers is timed out,
// scored down (file-stalled), and the fetch completes from another member.
func TestFileStallingPeer(t *testing.T) {
	a, s := fileNode(t, "alice"), fileNode(t, "staller")
	c := fileNode(t, "carol", WithFileStallTimeout(300*time.Millisecond))
	gid := attackGroup(t, false, a, s, c)
	path, sum := writeRandomFile(t, t.TempDir(), "st.bin", 3<<20, 11)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, c, gid, m.ID)
	stop := make(chan struct{})
	defer close(stop)
	s.Host().Libp2p().SetStreamHandler(FileProtocol, func(st network.Stream) {
		defer st.Reset()
		<-stop // accepts, reads nothing, answers nothing
	})
	// Alice does not serve until the staller has been struck, so the fetch
	// must first meet the stall.
	a.Host().Libp2p().RemoveStreamHandler(FileProtocol)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.FetchFile(ctx, gid, m.ID) }()
	waitFor(t, "carol to strike the stalling member", func() bool { return c.Drops()["file-stalled"] > 0 })
	a.Host().Libp2p().SetStreamHandler(FileProtocol, a.files.server.Handle)
	if err := <-done; err != nil {
		t.Fatalf("fetch: %v", err)
	}
	fetchAndCheck(t, c, gid, m.ID, sum)
	if c.Drops()["file-stalled"] == 0 {
		t.Fatal("stall not counted")
	}
}

// An announcement whose tree is consistent but whose content hash lies
// ends "failed": never complete, never saved, never opened.
func TestFileLyingContentHash(t *testing.T) {
	a, b := fileNode(t, "alice"), fileNode(t, "bob")
	gid := attackGroup(t, false, a, b)
	path, _ := writeRandomFile(t, t.TempDir(), "lie.bin", 1<<20+77, 12)
	imp, err := a.files.store.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.memberGroup(gid)
	if err != nil {
		t.Fatal(err)
	}
	root, l := imp.Entry.Root(), imp.Entry.Layout()
	lie := append([]byte{}, imp.ContentHash...)
	lie[0] ^= 1
	f := &wirepb.FileAnnounce{Name: "lie.bin", Size: l.Size, Mime: "application/octet-stream", Root: root[:],
		Key: imp.Key, ChunkSize: uint32(l.ChunkSize), ContentHash: lie, Version: uint32(l.Version)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := a.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_File{File: f}})
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, b, gid, m.ID)
	if err := b.FetchFile(ctx, gid, m.ID); !errors.Is(err, ErrFileCorrupt) {
		t.Fatalf("fetch of a lying announcement: %v", err)
	}
	fs, err := b.Files(gid)
	if err != nil || len(fs) != 1 || fs[0].State != "failed" {
		t.Fatalf("files: %+v %v", fs, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := b.SaveFile(gid, m.ID, out); !errors.Is(err, ErrFileIncomplete) {
		t.Fatalf("save: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("something was saved")
	}
	if _, _, err := b.OpenFile(gid, m.ID); !errors.Is(err, ErrFileIncomplete) {
		t.Fatalf("open: %v", err)
	}
	// Asked again it stays failed and fetches nothing.
	if err := b.FetchFile(ctx, gid, m.ID); !errors.Is(err, ErrFileCorrupt) {
		t.Fatalf("second fetch: %v", err)
	}
}

// With the disk below the reserve, sending and fetching a new file fail
// with ErrDiskFull; a wanted fetch pauses with a "disk full" state and
// resumes by itself when space is back.
func TestFileDiskFull(t *testing.T) {
	a := fileNode(t, "alice")
	b := fileNode(t, "bob", WithFileDiskReserve(1<<62))
	gid := attackGroup(t, false, a, b)
	path, sum := writeRandomFile(t, t.TempDir(), "df.bin", 2<<20, 13)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, b, gid, m.ID)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.SendFile(ctx, gid, path); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("send on a full disk: %v", err)
	}
	if err := b.FetchFile(ctx, gid, m.ID); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("fetch on a full disk: %v", err)
	}
	events, unsub := b.Subscribe()
	defer unsub()
	// A fetch that was wanted (resumed at start, say) waits for space.
	f, g, mid, err := b.resolveFile(gid, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var root [32]byte
	copy(root[:], f.Root)
	e, err := b.files.store.Get(root)
	if err != nil {
		t.Fatal(err)
	}
	e.SetWanted(true)
	b.startFetch(g, mid, f)
	for paused := false; !paused; {
		select {
		case ev := <-events:
			paused = ev.Type == EventFile && ev.File.State == FileStatePaused && ev.File.DiskFull && ev.File.Error != ""
		case <-ctx.Done():
			t.Fatal("no paused event")
		}
	}
	fs, _ := b.Files(gid)
	if len(fs) != 1 || !fs[0].DiskFull || fs[0].State == "complete" || fs[0].Done != 0 {
		t.Fatalf("files while full: %+v", fs)
	}
	b.files.store.SetReserve(0) // space is back
	waitFor(t, "the paused fetch to resume and complete", func() bool {
		fs, _ := b.Files(gid)
		return len(fs) == 1 && fs[0].State == "complete" && !fs[0].DiskFull
	})
	fetchAndCheck(t, b, gid, m.ID, sum)
}
