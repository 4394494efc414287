package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func importVersion(t *testing.T, s *Store, version, size int) (*Imported, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	imp, err := s.importAs(version, bytes.NewReader(data), int64(size), "v")
	if err != nil {
		t.Fatal(err)
	}
	return imp, data
}

// corruptChunk flips a byte of held chunk i in the data file.
func corruptChunk(t *testing.T, e *Entry, i int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(e.dir, "data"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	off := e.Layout().offset(i) + 10
	f.ReadAt(b, off)
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
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

// fetchOldFormat imports a file in format version, fetches it as an
// announcement with wireVersion describes it from an honest and a corrupt
// peer (only the corrupt one may be struck), and exports it.
func fetchOldFormat(t *testing.T, version int, wireVersion uint32) (*Store, *Imported) {
	t.Helper()
	src, _ := Open(t.TempDir(), 0)
	imp, data := importVersion(t, src, version, 3*DefaultChunkSize+5)
	bad, _ := Open(t.TempDir(), 0)
	corrupt(t, copyEntry(t, imp.Entry, imp.Key, bad))
	dst, _ := Open(t.TempDir(), 0)
	l := imp.Entry.Layout()
	e, err := dst.Announced(imp.Entry.Root(), LayoutOf(l.Size, uint32(l.ChunkSize), wireVersion, imp.Key), imp.ContentHash, Announce{Group: "g", ID: "m"})
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
	return src, imp
}

// Files announced in the first format (no version on the wire) are still
// fetched, checked (a corrupt peer is struck) and exported; their lying
// content hash still ends failed.
func TestV1StillFetched(t *testing.T) {
	src, imp := fetchOldFormat(t, V1, 0) // as an old announcement describes it: version 0
	l := imp.Entry.Layout()
	if l.version() != V1 || imp.Entry.Root() != Root(imp.Entry.Leaves()) {
		t.Fatal("not a V1 file")
	}
	lie := append([]byte{}, imp.ContentHash...)
	lie[0] ^= 1
	dst2, _ := Open(t.TempDir(), 0)
	e2, _ := dst2.Announced(imp.Entry.Root(), l, lie, Announce{Group: "g", ID: "m"})
	if _, err := fetchFrom(t, e2, imp.Key, map[peer.ID]*Server{"good": NewServer(src, allow, slog.Default())}); !errors.Is(err, ErrFailed) {
		t.Fatalf("lying V1 hash: %v", err)
	}
}

// A V2 or V3 announcement whose key is not the one its root binds ends
// failed as soon as the hash list shows it, and no honest peer is struck.
func TestWrongKey(t *testing.T) {
	for _, version := range []int{V2, V3} {
		src, _ := Open(t.TempDir(), 0)
		imp, _ := importVersion(t, src, version, 2*DefaultChunkSize)
		l := imp.Entry.Layout()
		other := make([]byte, KeyLen)
		rand.Read(other)
		dst, _ := Open(t.TempDir(), 0)
		e, err := dst.Announced(imp.Entry.Root(), LayoutOf(l.Size, uint32(l.ChunkSize), uint32(version), other), imp.ContentHash, Announce{Group: "g", ID: "m"})
		if err != nil {
			t.Fatal(err)
		}
		struck, err := fetchFrom(t, e, other, map[peer.ID]*Server{"good": NewServer(src, allow, slog.Default())})
		if !errors.Is(err, ErrFailed) || e.Meta().State != StateFailed || len(struck) != 0 {
			t.Fatalf("V%d wrong key: %v, state %s, struck %v", version, err, e.Meta().State, struck)
		}
	}
}

// Files sent in format 2 (tree over the plaintext) are still fetched,
// checked (a corrupt peer is struck, and its chunks are decrypted to be
// checked) and exported.
func TestV2StillFetched(t *testing.T) {
	_, imp := fetchOldFormat(t, V2, V2)
	l := imp.Entry.Layout()
	asV2 := LayoutOf(l.Size, uint32(l.ChunkSize), V2, imp.Key) // the bind computed again from the key
	if l.version() != V2 || imp.Entry.Root() != asV2.fileRoot(asV2.contentRoot(imp.Entry.Leaves())) {
		t.Fatal("not a V2 file")
	}
}

// V3 fetches check the sealed bytes only. An author who seals the chunks
// under another key than the one announced (and bound into the root) gets
// a file that fetches, since every member serves the author's bytes, and
// fails when read: the export refuses it, the file is marked failed, and
// no peer is struck. A chunk damaged on this disk since is reported as such
// and leaves the file's state alone.
func TestV3SealedUnderAnotherKey(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, _ := importVersion(t, src, V3, 2*DefaultChunkSize+9)
	announced := make([]byte, KeyLen)
	rand.Read(announced)
	l := LayoutOf(imp.Entry.Layout().Size, uint32(imp.Entry.Layout().ChunkSize), V3, announced)
	content := l.contentRoot(imp.Entry.Leaves())
	root := l.fileRoot(content) // the author's root: the real chunks, the other key's bind
	liar, _ := Open(t.TempDir(), 0)
	le, err := liar.Announced(root, l, content[:], Announce{Group: "g", ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := le.SetLeaves(imp.Entry.Leaves()); err != nil {
		t.Fatal(err)
	}
	v, _ := le.NewVerifier(announced)
	for i := range l.Chunks() {
		b, _ := imp.Entry.ReadChunk(i, nil)
		if err := v.Put(i, b); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	le.Sync()
	le.Finish(announced)

	dst, _ := Open(t.TempDir(), 0)
	e, _ := dst.Announced(root, l, content[:], Announce{Group: "g", ID: "m"})
	struck, err := fetchFrom(t, e, announced, map[peer.ID]*Server{"author": NewServer(liar, allow, slog.Default())})
	if err != nil || e.Meta().State != StateComplete || len(struck) != 0 {
		t.Fatalf("fetch: %v, state %s, struck %v", err, e.Meta().State, struck)
	}
	if err := e.Export(announced, io.Discard); !errors.Is(err, ErrFailed) || e.Meta().State != StateFailed {
		t.Fatalf("export under the announced key: %v, state %s", err, e.Meta().State)
	}

	// Damage on disk: the honest file's chunk 1 flipped after the fetch.
	corruptChunk(t, imp.Entry, 1)
	if err := imp.Entry.Export(imp.Key, io.Discard); !errors.Is(err, ErrDecrypt) || errors.Is(err, ErrFailed) || imp.Entry.Meta().State != StateComplete {
		t.Fatalf("damaged chunk: %v, state %s", err, imp.Entry.Meta().State)
	}
}

// Sending content already held reuses the held file (its root, key and
// content hash); a V3 file fetched from others is not matched (its
// plaintext was never hashed here), and other content is not.
func TestSendDeduplicated(t *testing.T) {
	s, _ := Open(t.TempDir(), 0)
	data := make([]byte, DefaultChunkSize+3)
	rand.Read(data)
	first, err := s.ImportReader(bytes.NewReader(data), int64(len(data)), "a")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.ImportReader(bytes.NewReader(data), int64(len(data)), "b")
	if err != nil || !again.Dedup || again.Entry != first.Entry || !bytes.Equal(again.ContentHash, first.ContentHash) {
		t.Fatalf("same content: %v dedup=%v", err, again != nil && again.Dedup)
	}
	data[0] ^= 1
	other, err := s.ImportReader(bytes.NewReader(data), int64(len(data)), "c")
	if err != nil || other.Dedup || other.Entry.Root() == first.Entry.Root() {
		t.Fatalf("other content deduplicated: %v", err)
	}
	data[0] ^= 1
	dst, _ := Open(t.TempDir(), 0)
	e, _ := dst.Announced(first.Entry.Root(), first.Entry.Layout(), first.ContentHash, Announce{Group: "g", ID: "m"})
	if _, err := fetchFrom(t, e, first.Key, map[peer.ID]*Server{"a": NewServer(s, allow, slog.Default())}); err != nil {
		t.Fatal(err)
	}
	if e.Meta().PlainHash != "" {
		t.Fatal("a fetched V3 file claims a plaintext hash it never computed")
	}
	mine, err := dst.ImportReader(bytes.NewReader(data), int64(len(data)), "d")
	if err != nil || mine.Dedup {
		t.Fatalf("matched a fetched file by its sender's word: %v", err)
	}
}

// A chunk is bound to its index: the sealed bytes of chunk 0 served as
// chunk 1 fail (in V2, though they decrypt under the key at index 0).
func TestChunkBoundToIndex(t *testing.T) {
	for _, version := range []int{V2, V3} {
		src, _ := Open(t.TempDir(), 0)
		imp, _ := importVersion(t, src, version, 2*DefaultChunkSize)
		v, err := imp.Entry.NewVerifier(imp.Key)
		if err != nil {
			t.Fatal(err)
		}
		c0, _ := imp.Entry.ReadChunk(0, nil)
		if err := v.Check(0, c0); err != nil {
			t.Fatal(err)
		}
		if err := v.Check(1, c0); !errors.Is(err, ErrBadProof) {
			t.Fatalf("V%d chunk 0 as 1: %v", version, err)
		}
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
