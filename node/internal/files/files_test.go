package files

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/files/filepb"
)

func TestTreeProofs(t *testing.T) {
	for n := 1; n <= 33; n++ {
		leaves := make([]byte, n*HashLen)
		rand.Read(leaves)
		root := Root(leaves)
		for i := range n {
			var leaf [HashLen]byte
			copy(leaf[:], leaves[i*HashLen:])
			p := Proof(leaves, i)
			if err := Verify(root, n, i, leaf, p); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if i+1 < n && Verify(root, n, i+1, leaf, p) == nil {
				t.Fatalf("n=%d: leaf %d verified at %d", n, i, i+1)
			}
			leaf[0] ^= 1
			if Verify(root, n, i, leaf, p) == nil {
				t.Fatalf("n=%d i=%d: altered leaf verified", n, i)
			}
		}
	}
	if Root(nil) == Root(make([]byte, HashLen)) {
		t.Fatal("empty root equals a one-leaf root")
	}
}

func importRandom(t *testing.T, s *Store, size int) (*Imported, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	imp, err := s.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	return imp, data
}

// pipeOpen serves each opened stream from srv over an in-memory pipe.
func pipeOpen(srv *Server, from peer.ID) func() (Stream, error) {
	return func() (Stream, error) {
		c1, c2 := net.Pipe()
		go func() {
			defer c2.Close()
			srv.serve(c2, from, func() {})
		}()
		return c1, nil
	}
}

func TestImportFetchExport(t *testing.T) {
	for _, size := range []int{0, 1, DefaultChunkSize, 3*DefaultChunkSize + 17} {
		src, _ := Open(t.TempDir(), 0)
		imp, data := importRandom(t, src, size)
		dst, _ := Open(t.TempDir(), 0)
		e, err := dst.Announced(imp.Entry.Root(), imp.Entry.Layout(), imp.ContentHash, Announce{Group: "g", ID: "m"})
		if err != nil {
			t.Fatal(err)
		}
		good := NewServer(src, func(peer.ID, [HashLen]byte) bool { return true }, slog.Default())
		bad, _ := Open(t.TempDir(), 0) // holds a corrupted copy
		cp := copyEntry(t, imp.Entry, imp.Key, bad)
		corrupt(t, cp)
		badSrv := NewServer(bad, func(peer.ID, [HashLen]byte) bool { return true }, slog.Default())
		opens := map[peer.ID]func() (Stream, error){"good": pipeOpen(good, "me"), "bad": pipeOpen(badSrv, "me")}
		var struck []peer.ID
		err = Fetch(t.Context(), FetchConfig{Entry: e, Key: imp.Key,
			Peers:     func() []peer.ID { return []peer.ID{"bad", "good"} },
			Open:      func(_ context.Context, p peer.ID) (Stream, error) { return opens[p]() },
			OnBadPeer: func(p peer.ID, err error) { struck = append(struck, p) }})
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		var out bytes.Buffer
		if err := e.Export(imp.Key, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("size %d: export %v", size, err)
		}
		for _, p := range struck {
			if p != "bad" {
				t.Fatalf("honest peer struck")
			}
		}
		if e.Meta().State != StateComplete {
			t.Fatal(e.Meta().State)
		}
	}
}

func copyEntry(t *testing.T, e *Entry, key []byte, to *Store) *Entry {
	t.Helper()
	c, err := to.Announced(e.Root(), e.Layout(), []byte{1}, Announce{Group: "g", ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Layout().Chunks() == 0 {
		return c
	}
	if err := c.SetLeaves(e.Leaves()); err != nil {
		t.Fatal(err)
	}
	v, err := c.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e.Layout().Chunks() {
		b, _ := e.ReadChunk(i, nil)
		if err := v.Put(i, b); err != nil {
			t.Fatal(err)
		}
	}
	c.Sync()
	return c
}

func corrupt(t *testing.T, e *Entry) {
	f, err := os.OpenFile(filepath.Join(e.dir, "data"), os.O_RDWR, 0)
	if err != nil {
		if e.Layout().Chunks() == 0 {
			return
		}
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for i := range b {
		b[i] ^= 0x55
	}
	f.WriteAt(b, 0)
}

func TestLimit(t *testing.T) {
	s, _ := Open(t.TempDir(), 1000)
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, make([]byte, 2000), 0o600)
	if _, err := s.Import(path); err == nil {
		t.Fatal("over the limit accepted")
	}
	if s.Used() != 0 {
		t.Fatal("failed import kept its reservation")
	}
}

// FuzzServeRequest: any request bytes get an answer, never a panic.
func FuzzServeRequest(f *testing.F) {
	root := Root(make([]byte, HashLen))
	for _, r := range []*filepb.Request{{Root: root[:], Kind: &filepb.Request_Have{Have: true}},
		{Root: root[:], Kind: &filepb.Request_Chunk{Chunk: 7}}, {Root: root[:], Kind: &filepb.Request_Tree{Tree: true}},
		{Root: root[:], Kind: &filepb.Request_Range{Range: &filepb.Range{First: 1, Count: 2}}}} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	s, _ := Open(f.TempDir(), 0)
	s.Announced(root, Layout{Size: 10, ChunkSize: 4}, make([]byte, 32), Announce{})
	srv := NewServer(s, func(peer.ID, [HashLen]byte) bool { return true }, slog.Default())
	f.Fuzz(func(t *testing.T, b []byte) {
		var in bytes.Buffer
		in.Write(binary.AppendUvarint(nil, uint64(len(b))))
		in.Write(b)
		var out bytes.Buffer
		srv.serve(struct {
			io.Reader
			io.Writer
		}{&in, &out}, "p", func() {})
	})
}

// FuzzReceiveRange: whatever a peer answers to a range request, nothing is
// written that does not match the tree.
func FuzzReceiveRange(f *testing.F) {
	s, _ := Open(f.TempDir(), 0)
	leaves := make([]byte, 3*HashLen)
	root := Root(leaves)
	e, _ := s.Announced(root, Layout{Size: 10, ChunkSize: 4}, make([]byte, 32), Announce{})
	e.SetLeaves(leaves)
	var seed bytes.Buffer
	writeFrame(&seed, &filepb.Response{Chunk: 0, DataLen: 20})
	seed.Write(make([]byte, 20))
	f.Add(seed.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		fe := &fetch{cfg: FetchConfig{StallTimeout: time.Second, Key: make([]byte, KeyLen)}, e: e, l: e.Layout(), want: make([]bool, 3),
			strikes: map[peer.ID]int{}, wake: make(chan struct{}, 1), syncReq: make(chan struct{}, 1)}
		stop, err := fe.startWorkers(2)
		if err != nil {
			t.Fatal(err)
		}
		q := make(chan span, 1)
		q <- span{0, 3}
		close(q)
		c1, c2 := net.Pipe()
		go func() { c2.Write(b); c2.Close() }()
		sc := &streamCtl{s: c1}
		fe.receive(t.Context(), c1, bufio.NewReader(c1), q, sc)
		sc.jobs.Wait()
		stop()
		c1.Close()
		if fe.written != 0 || len(e.pending) != 0 {
			t.Fatal("a chunk not in the tree was written")
		}
	})
}

// A peer that answers its bitfield and then never sends the chunks it was
// asked for is struck as stalled after StallTimeout, the chunks it held in
// flight go back, and the fetch completes from another peer.
func TestFetchStalledRange(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, data := importRandom(t, src, 5*DefaultChunkSize+3)
	dst, _ := Open(t.TempDir(), 0)
	e, err := dst.Announced(imp.Entry.Root(), imp.Entry.Layout(), imp.ContentHash, Announce{Group: "g", ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(src, func(peer.ID, [HashLen]byte) bool { return true }, slog.Default())
	stallOpen := func() (Stream, error) {
		c1, c2 := net.Pipe()
		go func() {
			defer c2.Close()
			r := pbio.NewDelimitedReader(c2, maxRequest)
			for {
				var req filepb.Request
				if r.ReadMsg(&req) != nil {
					return
				}
				if _, ok := req.Kind.(*filepb.Request_Range); ok {
					io.Copy(io.Discard, c2) // never answers; ends when the fetcher closes
					return
				}
				ent, resp := srv.lookup("me", &req)
				if resp == nil {
					resp, _ = srv.answer(ent, &req, nil)
				}
				if writeFrame(c2, resp) != nil {
					return
				}
			}
		}()
		return c1, nil
	}
	good := pipeOpen(srv, "me")
	var mu sync.Mutex
	var strikes []error
	struck := func() bool { mu.Lock(); defer mu.Unlock(); return len(strikes) > 0 }
	err = Fetch(t.Context(), FetchConfig{Entry: e, Key: imp.Key, StallTimeout: 200 * time.Millisecond, Retry: 50 * time.Millisecond,
		Peers: func() []peer.ID {
			if struck() {
				return []peer.ID{"staller", "good"}
			}
			return []peer.ID{"staller"}
		},
		Open: func(_ context.Context, p peer.ID) (Stream, error) {
			if p == "good" {
				return good()
			}
			return stallOpen()
		},
		OnBadPeer: func(p peer.ID, err error) {
			if p != "staller" || !errors.Is(err, ErrStalled) {
				t.Errorf("strike %s: %v", p, err)
			}
			mu.Lock()
			strikes = append(strikes, err)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if e.Meta().State != StateComplete || e.Export(imp.Key, &out) != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("state %s", e.Meta().State)
	}
	if !struck() {
		t.Fatal("the stalling peer was not struck")
	}
}

// A fetch whose content hash does not match ends failed, never complete,
// and a paused fetch (no space) writes nothing until space is back.
func TestFetchLyingHashAndSpace(t *testing.T) {
	src, _ := Open(t.TempDir(), 0)
	imp, _ := importRandom(t, src, 2*DefaultChunkSize+9)
	srv := NewServer(src, func(peer.ID, [HashLen]byte) bool { return true }, slog.Default())
	open := pipeOpen(srv, "me")
	lie := append([]byte{}, imp.ContentHash...)
	lie[5] ^= 1
	dst, _ := Open(t.TempDir(), 0)
	e, _ := dst.Announced(imp.Entry.Root(), imp.Entry.Layout(), lie, Announce{Group: "g", ID: "m"})
	var full atomic.Bool
	full.Store(true)
	pauses := make(chan error, 4)
	done := make(chan error, 1)
	go func() {
		done <- Fetch(t.Context(), FetchConfig{Entry: e, Key: imp.Key, Retry: 20 * time.Millisecond,
			Peers: func() []peer.ID { return []peer.ID{"p"} },
			Open:  func(context.Context, peer.ID) (Stream, error) { return open() },
			Space: func() error {
				if full.Load() {
					return ErrDiskFull
				}
				return nil
			},
			OnPause: func(err error) { pauses <- err }})
	}()
	if err := <-pauses; !errors.Is(err, ErrDiskFull) {
		t.Fatalf("first pause: %v", err)
	}
	if e.Leaves() != nil || e.HaveBytes() != 0 {
		t.Fatal("written while the disk is full")
	}
	full.Store(false)
	if err := <-done; !errors.Is(err, ErrFailed) {
		t.Fatalf("lying hash: %v", err)
	}
	if err := <-pauses; err != nil {
		t.Fatalf("resume: %v", err)
	}
	if e.Meta().State != StateFailed || e.Meta().Wanted {
		t.Fatalf("state %s", e.Meta().State)
	}
	if e.HaveBytes() != e.Layout().Size {
		t.Fatal("not every chunk was fetched")
	}
}
