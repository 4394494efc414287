package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func importV1(t *testing.T, s *Store, size int) (*Imported, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	imp, err := s.importAs(V1, bytes.NewReader(data), int64(size), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return imp, data
}

func fetchFrom(t *testing.T, e *Entry, key []byte, srv map[peer.ID]*Server) ([]peer.ID, error) {
	t.Helper()
	var struck []peer.ID
	var ids []peer.ID
	opens := map[peer.ID]func() (Stream, error){}
	for p, s := range srv {
		ids = append(ids, p)
		opens[p] = pipeOpen(s, "me")
	}
	err := Fetch(t.Context(), FetchConfig{Entry: e, Key: key,
		Peers:     func() []peer.ID { return ids },
		Open:      func(_ context.Context, p peer.ID) (Stream, error) { return opens[p]() },
		OnBadPeer: func(p peer.ID, err error) { struck = append(struck, p) }})
	return struck, err
}

func allow(peer.ID, [HashLen]byte) bool { return true }

// Files announced in the first format (no version on the wire) are still
// fetched, checked (a corrupt peer is struck) and exported; their lying
// content hash still ends failed.
func TestV1StillFetched(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, data := importV1(t, src, 3*DefaultChunkSize+5)
	l := imp.Entry.Layout()
	if l.version() != V1 || imp.Entry.Root() != Root(imp.Entry.Leaves()) {
		t.Fatal("not a V1 file")
	}
	bad, _ := Open(t.TempDir(), 0)
	corrupt(t, copyEntry(t, imp.Entry, imp.Key, bad))
	dst, _ := Open(t.TempDir(), 0)
	// As an old announcement describes it: version 0.
	e, err := dst.Announced(imp.Entry.Root(), LayoutOf(l.Size, uint32(l.ChunkSize), 0, imp.Key), imp.ContentHash, Announce{Group: "g", ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	struck, err := fetchFrom(t, e, imp.Key, map[peer.ID]*Server{"good": NewServer(src, allow, slog.Default()), "bad": NewServer(bad, allow, slog.Default())})
	if err != nil || e.Meta().State != StateComplete {
		t.Fatalf("fetch: %v %s", err, e.Meta().State)
	}
	for _, p := range struck {
		if p != "bad" {
			t.Fatal("honest peer struck")
		}
	}
	var out bytes.Buffer
	if err := e.Export(imp.Key, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("export: %v", err)
	}

	lie := append([]byte{}, imp.ContentHash...)
	lie[0] ^= 1
	dst2, _ := Open(t.TempDir(), 0)
	e2, _ := dst2.Announced(imp.Entry.Root(), l, lie, Announce{Group: "g", ID: "m"})
	if _, err := fetchFrom(t, e2, imp.Key, map[peer.ID]*Server{"good": NewServer(src, allow, slog.Default())}); !errors.Is(err, ErrFailed) {
		t.Fatalf("lying V1 hash: %v", err)
	}
}

// A V2 announcement whose key is not the one its root binds ends failed
// as soon as the hash list shows it, and no honest peer is struck.
func TestV2WrongKey(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, _ := importRandom(t, src, 2*DefaultChunkSize)
	l := imp.Entry.Layout()
	other := make([]byte, KeyLen)
	rand.Read(other)
	dst, _ := Open(t.TempDir(), 0)
	e, err := dst.Announced(imp.Entry.Root(), LayoutOf(l.Size, uint32(l.ChunkSize), V2, other), imp.ContentHash, Announce{Group: "g", ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	struck, err := fetchFrom(t, e, other, map[peer.ID]*Server{"good": NewServer(src, allow, slog.Default())})
	if !errors.Is(err, ErrFailed) || e.Meta().State != StateFailed || len(struck) != 0 {
		t.Fatalf("wrong key: %v, state %s, struck %v", err, e.Meta().State, struck)
	}
}

// A format this build does not know is refused when announced.
func TestUnknownVersionRefused(t *testing.T) {
	s, _ := Open(t.TempDir(), 0)
	var root [HashLen]byte
	if _, err := s.Announced(root, LayoutOf(100, DefaultChunkSize, 3, make([]byte, KeyLen)), make([]byte, 32), Announce{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 3: %v", err)
	}
}

// In V2 a chunk is bound to its index: the sealed bytes of chunk 0 served
// as chunk 1 fail, though they decrypt under the key at index 0.
func TestV2ChunkBoundToIndex(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, _ := importRandom(t, src, 2*DefaultChunkSize)
	v, err := imp.Entry.NewVerifier(imp.Key)
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := imp.Entry.ReadChunk(0, nil)
	if err := v.Check(0, c0); err != nil {
		t.Fatal(err)
	}
	if err := v.Check(1, c0); !errors.Is(err, ErrBadProof) {
		t.Fatalf("chunk 0 as 1: %v", err)
	}
}

// A chunk written but not yet synced is not held after a crash (the store
// reopened without Sync, as after kill -9): only a checkpoint marks chunks
// held, after the data file is synced.
func TestUnsyncedChunkNotHeld(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, _ := importRandom(t, src, 3*DefaultChunkSize)
	dir := t.TempDir()
	dst, _ := Open(dir, 0)
	e, _ := dst.Announced(imp.Entry.Root(), imp.Entry.Layout(), imp.ContentHash, Announce{Group: "g", ID: "m"})
	if err := e.SetLeaves(imp.Entry.Leaves()); err != nil {
		t.Fatal(err)
	}
	v, err := e.NewVerifier(imp.Key)
	if err != nil {
		t.Fatal(err)
	}
	put := func(i int) {
		b, _ := imp.Entry.ReadChunk(i, nil)
		if err := v.Put(i, b); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	if _, err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	put(1) // written, never synced
	again, _ := Open(dir, 0)
	e2, err := again.Get(imp.Entry.Root())
	if err != nil {
		t.Fatal(err)
	}
	if m := e2.Missing(); len(m) != 2 || m[0] != 1 || m[1] != 2 {
		t.Fatalf("missing after a crash: %v", m)
	}
	if _, err := e2.ReadChunk(1, nil); !errors.Is(err, ErrMissing) {
		t.Fatalf("unsynced chunk served: %v", err)
	}
}
