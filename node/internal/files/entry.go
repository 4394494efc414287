package files

import (
	"bytes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
)

// Entry is one root's local state. Its methods are safe for concurrent use.
type Entry struct {
	s      *Store
	root   [HashLen]byte
	dir    string
	layout Layout

	syncMu  sync.Mutex // one Sync at a time
	mu      sync.Mutex
	meta    Meta
	leaves  []byte     // nil until known (checked against root)
	tree    [][][]byte // levels of the tree, built on first proof
	have    []byte     // durable chunks
	pending []int      // written, not yet synced
	data    *os.File
}

// Root names the file.
func (e *Entry) Root() [HashLen]byte { return e.root }

// Layout is the file's chunking.
func (e *Entry) Layout() Layout { return e.layout }

// Meta returns a copy of the metadata.
func (e *Entry) Meta() Meta {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.meta
	m.Announced = append([]Announce(nil), m.Announced...)
	return m
}

// SetWanted records that a fetch was asked for (resumed after a restart).
func (e *Entry) SetWanted(w bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.meta.Wanted == w {
		return nil
	}
	e.meta.Wanted = w
	return e.saveMeta()
}

// HaveBytes is the plaintext bytes of durable chunks.
func (e *Entry) HaveBytes() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for i := range e.layout.Chunks() {
		if e.has(i) {
			n += uint64(e.layout.Plain(i))
		}
	}
	return n
}

// Bitfield copies the durable chunks' bitfield; nil while the tree is not
// known (nothing can be served without proofs).
func (e *Entry) Bitfield() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leaves == nil {
		return nil
	}
	return append([]byte{}, e.have...)
}

// Leaves returns the hash list, nil while unknown.
func (e *Entry) Leaves() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaves
}

// Missing lists the chunks not yet durable.
func (e *Entry) Missing() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []int
	for i := range e.layout.Chunks() {
		if !e.has(i) {
			out = append(out, i)
		}
	}
	return out
}

func (e *Entry) has(i int) bool { return e.have[i/8]&(1<<(i%8)) != 0 }

// HasBit reports whether bitfield b has chunk i.
func HasBit(b []byte, i int) bool { return i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }

// CountBits counts set bits.
func CountBits(b []byte) int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

// SetLeaves stores the hash list after checking it against the root, and
// reserves the file's space against the limit. A V2 or V3 list whose
// content root is the announced content hash but which does not bind to
// the root under the announced key shows the announcement lies about its
// key: the file is marked failed (ErrFailed).
func (e *Entry) SetLeaves(leaves []byte) error {
	if len(leaves) != e.layout.Chunks()*HashLen {
		return ErrBadProof
	}
	if e.layout.bound() {
		content := e.layout.contentRoot(leaves)
		if e.layout.fileRoot(content) != e.root {
			if e.Meta().ContentHash == hex.EncodeToString(content[:]) {
				return e.fail()
			}
			return ErrBadProof
		}
	} else if Root(leaves) != e.root {
		return ErrBadProof
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leaves != nil {
		return nil
	}
	if e.meta.State == StateMissing {
		if err := e.s.reserve(e.reserved()); err != nil {
			return err
		}
	}
	if err := writeFileSync(filepath.Join(e.dir, "leaves"), leaves); err != nil {
		return err
	}
	e.leaves = append([]byte{}, leaves...)
	if e.meta.State == StateMissing {
		e.meta.State = StatePartial
		return e.saveMeta()
	}
	return nil
}

// fail marks the file failed (its announcement lies) and returns ErrFailed.
func (e *Entry) fail() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.meta.State, e.meta.Wanted = StateFailed, false
	if err := e.saveMeta(); err != nil {
		return err
	}
	return ErrFailed
}

// reserved is the bytes the data file takes when complete.
func (e *Entry) reserved() int64 {
	return int64(e.layout.Size) + int64(e.layout.Chunks())*Overhead
}

func (e *Entry) openData() error {
	if e.data != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(e.dir, "data"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	e.data = f
	return nil
}

// Proof is the proof of chunk i (the tree must be known).
func (e *Entry) Proof(i int) [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leaves == nil || i < 0 || i >= e.layout.Chunks() {
		return nil
	}
	if e.tree == nil {
		e.tree = levels(e.layout.domain(), e.leaves)
	}
	return proofFrom(e.tree, i)
}

// ReadChunk reads held chunk i into buf (grown as needed).
func (e *Entry) ReadChunk(i int, buf []byte) ([]byte, error) {
	e.mu.Lock()
	if i < 0 || i >= e.layout.Chunks() || !e.has(i) || e.leaves == nil {
		e.mu.Unlock()
		return nil, ErrMissing
	}
	if err := e.openData(); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	f := e.data
	e.mu.Unlock()
	n := e.layout.Sealed(i)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.ReadAt(buf, e.layout.offset(i)); err != nil {
		return nil, err
	}
	return buf, nil
}

// writeChunk writes sealed chunk i, already checked against the tree, at
// its slot; it becomes durable, and is served, after the next Sync. The
// write runs outside the entry's lock, so several workers write at once.
func (e *Entry) writeChunk(i int, sealed []byte) error {
	e.mu.Lock()
	if e.has(i) {
		e.mu.Unlock()
		return nil
	}
	err := e.openData()
	f := e.data
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(sealed, e.layout.offset(i)); err != nil {
		return err
	}
	e.mu.Lock()
	e.pending = append(e.pending, i)
	e.mu.Unlock()
	return nil
}

// Sync makes written chunks durable: the data file is synced first, then
// the bitfield naming them is written, so a bit is never set for a chunk a
// crash could lose. Chunks keep being written while it runs (the fsync is
// outside the entry's lock). It returns how many chunks became durable.
func (e *Entry) Sync() (int, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	e.mu.Lock()
	pend, f := e.pending, e.data
	e.pending = nil
	e.mu.Unlock()
	if len(pend) == 0 {
		return 0, nil
	}
	fail := func(err error) (int, error) {
		e.mu.Lock()
		e.pending = append(e.pending, pend...)
		e.mu.Unlock()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	e.mu.Lock()
	have := append([]byte{}, e.have...)
	e.mu.Unlock()
	for _, i := range pend {
		have[i/8] |= 1 << (i % 8)
	}
	if err := writeFileSync(filepath.Join(e.dir, "have"), have); err != nil {
		return fail(err)
	}
	e.mu.Lock()
	e.have = have // only Sync changes have, one at a time
	e.mu.Unlock()
	return len(pend), nil
}

// Complete reports whether every chunk is durable.
func (e *Entry) Complete() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaves != nil && CountBits(e.have) == e.layout.Chunks()
}

// Finish checks a file whose chunks are all held against its content hash:
// V1 decrypts the chunks in order and hashes the plaintext (a pass over the
// file); V2's and V3's chunks were each checked against the tree, so the
// tree's root is compared with the announced one. The state becomes
// complete or failed (ErrFailed).
func (e *Entry) Finish(key []byte) error {
	if !e.Complete() {
		return ErrMissing
	}
	if e.layout.bound() {
		sum := e.layout.contentRoot(e.Leaves())
		return e.Finished(sum[:], nil)
	}
	h := sha256.New()
	err := e.Export(key, h)
	if err != nil && err != ErrFailed {
		return e.Finished(nil, err)
	}
	return e.Finished(h.Sum(nil), nil)
}

// Finished ends a fetch whose chunks are all held, given the SHA-256 of the
// plaintext (computed while the chunks arrived) or the error that stopped
// the hashing: the state becomes complete when the hash is the announced
// one, failed (ErrFailed) when it is not or a chunk that matches the tree
// does not decrypt under the announced key.
func (e *Entry) Finished(sum []byte, herr error) error {
	if !e.Complete() {
		return ErrMissing
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	switch {
	case herr == nil && hex.EncodeToString(sum) == e.meta.ContentHash:
		e.meta.State = StateComplete
	case herr == nil || errors.Is(herr, ErrDecrypt) || errors.Is(herr, ErrFailed):
		e.meta.State, err = StateFailed, ErrFailed
	default:
		return herr
	}
	e.meta.Wanted = false
	if serr := e.saveMeta(); serr != nil {
		return serr
	}
	return err
}

// Export decrypts the held file into w, one chunk at a time, and fails
// with ErrFailed if the content does not hash to the announced hash (w has
// then received unverified bytes: write to a temporary file). V1 hashes
// the plaintext; in V2 and V3 each chunk's tag authenticates it under the
// key and the tree (checked chunk by chunk when fetched) must have the
// announced root. A V3 chunk that matches the tree but does not decrypt
// was sealed by its author under another key than the announced one: the
// file is marked failed (ErrFailed).
func (e *Entry) Export(key []byte, w io.Writer) error {
	l := e.layout
	a, err := l.aead(key)
	if err != nil {
		return err
	}
	var h hash.Hash
	if l.version() == V1 {
		h = sha256.New()
	} else if e.Leaves() == nil {
		return ErrMissing
	}
	var buf, plain []byte
	for i := range l.Chunks() {
		if buf, err = e.ReadChunk(i, buf); err != nil {
			return err
		}
		if plain, err = l.openChunk(a, plain[:0], i, buf); err != nil {
			return e.undecryptable(i, buf, err)
		}
		if h != nil {
			h.Write(plain)
		}
		if _, err := w.Write(plain); err != nil {
			return err
		}
	}
	var sum []byte
	if h != nil {
		sum = h.Sum(nil)
	} else {
		c := l.contentRoot(e.Leaves())
		sum = c[:]
	}
	if hex.EncodeToString(sum) != e.Meta().ContentHash {
		return ErrFailed
	}
	return nil
}

// undecryptable explains a held chunk i that failed to decrypt (err). In
// V3 the fetch checked only the sealed bytes against the tree: if they
// still match their leaf, the author sealed them under another key than
// the announced one and the file is marked failed (ErrFailed); if not, the
// data file was damaged on this disk since.
func (e *Entry) undecryptable(i int, sealed []byte, err error) error {
	if e.layout.version() != V3 {
		return err
	}
	leaves := e.Leaves()
	if leaves == nil || (i+1)*HashLen > len(leaves) {
		return err
	}
	if h := leafHash(sha256.New(), domainV3, sealed); !bytes.Equal(h[:], leaves[i*HashLen:(i+1)*HashLen]) {
		return fmt.Errorf("%w: chunk %d damaged on disk", ErrDecrypt, i)
	}
	return e.fail()
}

func (e *Entry) saveMeta() error {
	b, err := json.Marshal(e.meta)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(e.dir, "meta.json"), b); err != nil {
		return fmt.Errorf("save file state: %w", err)
	}
	return nil
}

// close releases the data file.
func (e *Entry) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.data != nil {
		e.data.Close()
		e.data = nil
	}
}

// Close releases every open data file.
func (s *Store) Close() {
	for _, e := range s.All() {
		e.close()
	}
}

// Reader reads a complete file's plaintext with Seek (an HTTP Range
// download): one chunk is decrypted at a time, each checked by its AEAD
// tag; the whole-content hash was checked by Finish before the file was
// called complete.
type Reader struct {
	e     *Entry
	a     cipher.AEAD
	off   int64
	chunk int // index held in plain, -1 none
	buf   []byte
	plain []byte
}

// NewReader opens the file's plaintext.
func (e *Entry) NewReader(key []byte) (*Reader, error) {
	a, err := e.layout.aead(key)
	if err != nil {
		return nil, err
	}
	return &Reader{e: e, a: a, chunk: -1}, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	size := int64(r.e.layout.Size)
	if r.off >= size {
		return 0, io.EOF
	}
	cs := int64(r.e.layout.ChunkSize)
	i := int(r.off / cs)
	if i != r.chunk {
		var err error
		if r.buf, err = r.e.ReadChunk(i, r.buf); err != nil {
			return 0, err
		}
		if r.plain, err = r.e.layout.openChunk(r.a, r.plain[:0], i, r.buf); err != nil {
			return 0, r.e.undecryptable(i, r.buf, err)
		}
		r.chunk = i
	}
	n := copy(p, r.plain[r.off-int64(i)*cs:])
	r.off += int64(n)
	return n, nil
}

// Seek implements io.Seeker.
func (r *Reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += int64(r.e.layout.Size)
	}
	if off < 0 {
		return 0, fmt.Errorf("seek before the start")
	}
	r.off = off
	return off, nil
}
