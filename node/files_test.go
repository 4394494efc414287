package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/files/filepb"
)

// writeRandomFile writes size bytes from a seeded PRNG and returns the
// path and the content's SHA-256.
func writeRandomFile(t testing.TB, dir, name string, size int, seed uint64) (string, [32]byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, len(buf))
		for i := 0; i+8 <= n; i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		for i := n &^ 7; i < n; i++ {
			buf[i] = byte(r.Uint32())
		}
		f.Write(buf[:n])
		h.Write(buf[:n])
		left -= n
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return path, sum
}

func fileHash(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// fileNode is a test node with an in-memory message store and files in a
// temporary directory; small files are not fetched unless asked.
func fileNode(t testing.TB, name string, opts ...Option) *testNode {
	base := append([]Option{WithFilesDir(t.TempDir()), WithAutoDownload(0), WithFileStallTimeout(5 * time.Second)}, attackOpts()...)
	return newTestNode(t, name, "", append(base, opts...)...)
}

func fetchAndCheck(t *testing.T, n *testNode, gid, id string, want [32]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.FetchFile(ctx, gid, id); err != nil {
		t.Fatalf("%s fetch: %v", n.cfg.displayName, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := n.SaveFile(gid, id, out); err != nil {
		t.Fatal(err)
	}
	if got := fileHash(t, out); got != want {
		t.Fatalf("%s saved a different file", n.cfg.displayName)
	}
	os.Remove(out)
	fs, err := n.Files(gid)
	if err != nil || len(fs) == 0 || fs[0].State != "complete" {
		t.Fatalf("%s files: %+v %v", n.cfg.displayName, fs, err)
	}
}

// waitAnnounced waits until n holds the announcement id.
func waitAnnounced(t *testing.T, n *testNode, gid, id string) {
	t.Helper()
	g, _ := n.group(gid)
	waitFor(t, n.cfg.displayName+" to hold the announcement", func() bool {
		for _, p := range g.topic.ListPeers() {
			n.sync.Request(p, g.sync)
		}
		_, _, _, err := n.resolveFile(gid, id)
		return err == nil
	})
}

func TestFileLargeToTwo(t *testing.T) {
	a, b, c := fileNode(t, "alice"), fileNode(t, "bob"), fileNode(t, "carol")
	gid := attackGroup(t, false, a, b, c)
	size := 100_000_000 + 12345
	if testing.Short() {
		size = 8 << 20
	}
	path, sum := writeRandomFile(t, t.TempDir(), "big.bin", size, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := a.SendFile(ctx, gid, path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != "file" || m.File == nil || m.File.Size != uint64(size) || m.File.Name != "big.bin" {
		t.Fatalf("announcement %+v", m)
	}
	var wg sync.WaitGroup
	for _, n := range []*testNode{b, c} {
		waitAnnounced(t, n, gid, m.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetchAndCheck(t, n, gid, m.ID, sum)
		}()
	}
	wg.Wait()
}

func TestFileResumeAfterStop(t *testing.T) {
	a := fileNode(t, "alice")
	bdir := t.TempDir()
	b := newTestNode(t, "bob", bdir, append(attackOpts(), WithAutoDownload(0))...)
	gid := attackGroup(t, false, a, b)
	path, sum := writeRandomFile(t, t.TempDir(), "resume.bin", 64<<20, 2)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, b, gid, m.ID)
	chunks := int((m.File.Size + 256<<10 - 1) / (256 << 10))

	evs, stop := b.Subscribe()
	defer stop()
	go b.FetchFile(context.Background(), gid, m.ID)
	for ev := range evs {
		if ev.Type == EventFile && ev.File.Done > 0 {
			break
		}
	}
	b.stop() // mid-way: what was durable stays, the rest is fetched later
	served1, _, _ := a.FileStats()

	b2 := startTestNode(t, "bob", bdir, b.key, append(attackOpts(), WithAutoDownload(0))...)
	f, _, _, err := b2.resolveFile(gid, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var root [32]byte
	copy(root[:], f.Root)
	e, err := b2.files.store.Get(root)
	if err != nil {
		t.Fatal(err)
	}
	held := chunks - len(e.Missing())
	if held == 0 || held == chunks {
		t.Fatalf("stop was not mid-way: %d of %d chunks held", held, chunks)
	}
	connect(t, b2, a)
	fetchAndCheck(t, b2, gid, m.ID, sum)
	served2, _, _ := a.FileStats()
	if got := int(served2 - served1); got != chunks-held {
		t.Fatalf("after the restart alice served %d chunks; bob lacked %d (held %d of %d)", got, chunks-held, held, chunks)
	}
	t.Logf("held %d of %d chunks at restart; %d fetched before, %d after", held, chunks, served1, served2-served1)
}

func TestFileCorruptPeer(t *testing.T) {
	a, b, c := fileNode(t, "alice"), fileNode(t, "bob"), fileNode(t, "carol")
	gid := attackGroup(t, false, a, b, c)
	path, sum := writeRandomFile(t, t.TempDir(), "c.bin", 16<<20, 3)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, c, gid, m.ID)
	fetchAndCheck(t, c, gid, m.ID, sum)
	// Carol's disk goes bad: every chunk she serves fails its proof.
	corruptData(t, c, m.File.Root)
	// Bob fetches from the members he is connected to: make sure carol is
	// one of them. Alice holds back from bob until he has refused a chunk
	// of carol's: otherwise she may serve the whole file before his first
	// request to carol, and nothing would show that carol was refused.
	connect(t, b, c)
	waitAnnounced(t, b, gid, m.ID)
	metCarol := make(chan struct{})
	a.Host().SetStreamHandler(FileProtocol, func(st network.Stream) {
		if st.Conn().RemotePeer() == b.self {
			select {
			case <-metCarol:
			case <-time.After(testTimeout):
			}
		}
		a.files.server.Handle(st)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fetched := make(chan error, 1)
	go func() { fetched <- b.FetchFile(ctx, gid, m.ID) }()
	waitFor(t, "bob to refuse a chunk from carol", func() bool { return b.Drops()["file-bad-chunk"] > 0 })
	close(metCarol)
	if err := <-fetched; err != nil {
		t.Fatalf("bob fetch: %v", err)
	}
	fetchAndCheck(t, b, gid, m.ID, sum) // already complete: saves and compares
}

func corruptData(t *testing.T, n *testNode, rootHex string) {
	t.Helper()
	path := filepath.Join(n.files.store.Dir(), rootHex, "data")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(b); i += 4096 {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileSenderOffline(t *testing.T) {
	a, b, c := fileNode(t, "alice"), fileNode(t, "bob"), fileNode(t, "carol")
	gid := attackGroup(t, false, a, b, c)
	path, sum := writeRandomFile(t, t.TempDir(), "o.bin", 32<<20, 4)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	waitAnnounced(t, c, gid, m.ID)
	fetchAndCheck(t, c, gid, m.ID, sum)
	waitAnnounced(t, b, gid, m.ID)
	evs, stop := b.Subscribe()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- b.FetchFile(context.Background(), gid, m.ID) }()
	for ev := range evs {
		if ev.Type == EventFile && ev.File.Done > 0 {
			break
		}
	}
	a.stop() // the sender leaves mid-way
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("fetch did not finish from carol")
	}
	fetchAndCheck(t, b, gid, m.ID, sum)
}

func TestFileNonMemberRefused(t *testing.T) {
	a, b := fileNode(t, "alice"), fileNode(t, "bob")
	gid := attackGroup(t, false, a, b)
	path, _ := writeRandomFile(t, t.TempDir(), "s.bin", 1000, 5)
	m, err := a.SendFile(context.Background(), gid, path)
	if err != nil {
		t.Fatal(err)
	}
	mallory := fileNode(t, "mallory")
	connect(t, mallory, a)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := mallory.Host().NewStream(ctx, a.ID(), FileProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	root, _ := hexDecode(m.File.Root)
	if err := pbio.NewDelimitedWriter(s).WriteMsg(&filepb.Request{Root: root, Kind: &filepb.Request_Chunk{Chunk: 0}}); err != nil {
		t.Fatal(err)
	}
	var resp filepb.Response
	if err := pbio.NewDelimitedReader(s, 1<<20).ReadMsg(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != filepb.Status_REFUSED || len(resp.Data) != 0 {
		t.Fatalf("non-member got %v", resp.Status)
	}
	if _, refused, _ := a.FileStats(); refused == 0 {
		t.Fatal("refusal not counted")
	}
	if a.Drops()["file-refused"] == 0 {
		t.Fatal("refusal not in drops")
	}
}

func TestFileBadInputAndAuto(t *testing.T) {
	a := fileNode(t, "alice", WithFileLimit(1<<20))
	b := fileNode(t, "bob", WithAutoDownload(64<<10))
	gid := attackGroup(t, false, a, b)
	ctx := context.Background()
	if _, err := a.SendFile(ctx, gid, filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("missing path: %v", err)
	}
	if _, err := a.SendFile(ctx, gid, t.TempDir()); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("directory: %v", err)
	}
	big, _ := writeRandomFile(t, t.TempDir(), "big", 2<<20, 6)
	if _, err := a.SendFile(ctx, gid, big); !errors.Is(err, ErrFileLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	small, sum := writeRandomFile(t, t.TempDir(), "pic.png", 50<<10, 7)
	m, err := a.SendFile(ctx, gid, small)
	if err != nil {
		t.Fatal(err)
	}
	if m.File.Mime != "image/png" {
		t.Fatalf("mime %q", m.File.Mime)
	}
	// The same content again is kept once.
	used := func() int64 { _, _, u := a.FileStats(); return u }
	before := used()
	m2, err := a.SendFile(ctx, gid, small)
	if err != nil || m2.File.Root != m.File.Root || used() != before {
		t.Fatalf("dedup: %v root %s vs %s, used %d -> %d", err, m2.File.Root, m.File.Root, before, used())
	}
	waitFor(t, "bob to fetch the small file by himself", func() bool {
		fs, _ := b.Files(gid)
		return len(fs) > 0 && fs[0].State == "complete"
	})
	out := filepath.Join(t.TempDir(), "x")
	if err := b.SaveFile(gid, m.ID[:8], out); err != nil || fileHash(t, out) != sum {
		t.Fatalf("save by prefix: %v", err)
	}
	fi, r, err := b.OpenFile(gid, m.ID)
	if err != nil || fi.Size != 50<<10 {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(small)
	r.Seek(1000, io.SeekStart)
	got := make([]byte, 3000)
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want[1000:4000]) {
		t.Fatalf("range read: %v", err)
	}
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
