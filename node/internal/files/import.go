package files

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Imported is a file taken into the store for sending.
type Imported struct {
	Entry       *Entry
	Key         []byte // nil when Dedup: the earlier announcement's key applies
	ContentHash []byte
	// Dedup: the same content was held already (complete); Entry is that
	// file and no new chunks were kept.
	Dedup bool
}

// ErrNotRegular: the path is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Import reads the file at path once, streaming: each chunk is hashed,
// sealed under a new random key and written to the store, so memory stays
// at one chunk whatever the size. Content already held complete is not
// kept twice (Dedup). New files are in the Current format.
func (s *Store) Import(path string) (*Imported, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, path)
	}
	return s.ImportReader(f, fi.Size(), path)
}

// ImportReader is Import from a stream of exactly size bytes (an upload);
// what names it in errors.
func (s *Store) ImportReader(f io.Reader, size int64, what string) (*Imported, error) {
	return s.importAs(Current, f, size, what)
}

// importAs imports in a given format (V1 only for tests of old files).
func (s *Store) importAs(version int, f io.Reader, size int64, what string) (*Imported, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: unknown size", ErrNotRegular)
	}
	l := Layout{Size: uint64(size), ChunkSize: ChunkSizeFor(uint64(size)), Version: version}
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := s.CheckSpace(); err != nil {
		return nil, err
	}
	need := int64(l.Size) + int64(l.Chunks())*Overhead
	if err := s.reserve(need); err != nil {
		return nil, err
	}
	kept := false
	defer func() {
		if !kept {
			s.reserve(-need)
		}
	}()
	tmp, err := os.MkdirTemp(s.dir, ".import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // renamed away on success
	key := make([]byte, KeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if l.bound() {
		l.Bind = keyBindIn(l.domain(), key)
	}
	a, err := l.aead(key)
	if err != nil {
		return nil, err
	}
	data, err := os.OpenFile(filepath.Join(tmp, "data"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	// plainH hashes the plaintext: V1's content hash, V3's dedup hash.
	h, plainH := sha256.New(), sha256.New()
	leaves := make([]byte, 0, l.Chunks()*HashLen)
	var w bufWriter
	w.init(data, 4<<20) // large sequential writes
	plain := make([]byte, l.ChunkSize)
	sealed := make([]byte, 0, l.ChunkSize+Overhead)
	for i := range l.Chunks() {
		p := plain[:l.Plain(i)]
		if _, err := io.ReadFull(f, p); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		if err := s.CheckSpace(); err != nil {
			return nil, err
		}
		sealed = l.sealChunk(a, sealed[:0], i, p)
		var leaf [HashLen]byte
		if l.sealedTree() {
			plainH.Write(p)
			leaf = leafHash(h, l.domain(), sealed)
		} else {
			leaf = leafHash(h, domainV2, p) // V2: the tree is over the plaintext
		}
		leaves = append(leaves, leaf[:]...)
		if err := w.write(sealed); err != nil {
			return nil, err
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	if n, _ := f.Read(plain[:1]); n != 0 {
		return nil, fmt.Errorf("%s is longer than %d bytes (it grew while being read)", what, size)
	}
	plainSum := plainH.Sum(nil)
	sum, root := plainSum, Root(leaves)
	if l.bound() {
		c := l.contentRoot(leaves)
		sum, root = c[:], l.fileRoot(c)
	}
	same := sum // V3's content hash depends on the key: the plaintext's is compared
	if version == V3 {
		same = plainSum
	}
	if old := s.FindContent(version, same); old != nil {
		oldSum, err := hex.DecodeString(old.Meta().ContentHash)
		if err != nil {
			return nil, fmt.Errorf("held copy %x: bad content hash in its metadata", old.Root())
		}
		return &Imported{Entry: old, ContentHash: oldSum, Dedup: true}, nil
	}
	if err := data.Sync(); err != nil {
		return nil, err
	}
	have := make([]byte, (l.Chunks()+7)/8)
	for i := range l.Chunks() {
		have[i/8] |= 1 << (i % 8)
	}
	e := &Entry{s: s, root: root, dir: filepath.Join(s.dir, hex.EncodeToString(root[:])), layout: l,
		meta:   metaOf(l, sum, StateComplete),
		leaves: leaves, have: have}
	if version == V3 {
		e.meta.PlainHash = hex.EncodeToString(plainSum)
	}
	if err := writeFileSync(filepath.Join(tmp, "leaves"), leaves); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "have"), have); err != nil {
		return nil, err
	}
	e.dir = tmp
	if err := e.saveMeta(); err != nil {
		return nil, err
	}
	e.dir = filepath.Join(s.dir, hex.EncodeToString(root[:]))
	if err := os.Rename(tmp, e.dir); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.entries[root] = e
	s.mu.Unlock()
	kept = true
	return &Imported{Entry: e, Key: key, ContentHash: sum}, nil
}

// bufWriter gathers sealed chunks into large sequential writes.
type bufWriter struct {
	f   io.Writer
	buf []byte
}

func (w *bufWriter) init(f io.Writer, size int) { w.f, w.buf = f, make([]byte, 0, size) }

func (w *bufWriter) write(b []byte) error {
	if len(w.buf)+len(b) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(b) > cap(w.buf) {
		_, err := w.f.Write(b)
		return err
	}
	w.buf = append(w.buf, b...)
	return nil
}

func (w *bufWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}
