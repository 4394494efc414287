package files

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Local states of a file.
const (
	StateMissing  = "missing"  // announced, nothing fetched
	StatePartial  = "partial"  // some chunks held
	StateComplete = "complete" // every chunk held and the content hash checked
	StateFailed   = "failed"   // every chunk held but the content does not match the announcement
)

// Errors.
var (
	ErrNotFound = errors.New("file not known here")
	ErrLimit    = errors.New("over the profile's file size limit")
	ErrMissing  = errors.New("chunk not held")
	ErrFailed   = errors.New("file content does not match its announcement")
)

// Announce is one announcement of a root: the group and message that
// carried it (hex ids).
type Announce struct {
	Group string `json:"group"`
	ID    string `json:"id"`
}

// Meta is what the store keeps about a root besides the chunks. The file
// key is not kept here: it stays in the message store (encrypted at rest
// with the profile's passphrase when set), so the chunk files on disk are
// ciphertext only.
type Meta struct {
	Size        uint64 `json:"size"`
	ChunkSize   int    `json:"chunk_size"`
	ContentHash string `json:"content_hash"`
	State       string `json:"state"`
	Wanted      bool   `json:"wanted,omitempty"`  // a fetch was asked for: resumed at start
	Version     int    `json:"version,omitempty"` // format; 0 is V1
	Bind        string `json:"bind,omitempty"`    // V2, V3: key bind of the key, hex (not the key)
	// PlainHash (V3, sent from here) is the SHA-256 of the plaintext, hex:
	// what sending the same content again is deduplicated by. A fetched V3
	// file has none (its plaintext is not read while fetching).
	PlainHash string     `json:"plain_hash,omitempty"`
	Announced []Announce `json:"announced,omitempty"`
}

// Store keeps files under one directory: <dir>/<root hex>/ with meta.json,
// leaves (the hash list), data (sealed chunks in fixed slots, sparse) and
// have (the bitfield of durable chunks).
type Store struct {
	dir   string
	limit int64
	space space

	mu      sync.Mutex
	entries map[[HashLen]byte]*Entry
	used    int64 // bytes of data files reserved (partial and complete)
}

// Open opens (creating) a store directory. limit > 0 caps the bytes of all
// files with data.
func Open(dir string, limit int64) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, limit: limit, entries: map[[HashLen]byte]*Entry{}}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		raw, err := hex.DecodeString(de.Name())
		if err != nil || len(raw) != HashLen || !de.IsDir() {
			continue
		}
		var root [HashLen]byte
		copy(root[:], raw)
		e, err := s.load(root)
		if err != nil {
			continue // a half-created entry: ignored, announced again later
		}
		s.entries[root] = e
		if e.meta.State != StateMissing {
			s.used += e.reserved()
		}
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Used is the bytes reserved by files with data.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Get returns the entry of root.
func (s *Store) Get(root [HashLen]byte) (*Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[root]
	if !ok {
		return nil, ErrNotFound
	}
	return e, nil
}

// All lists every entry.
func (s *Store) All() []*Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	return out
}

// FindContent returns a complete entry of format version whose content is
// h: V1 and V2 by their content hash, V3 by the plaintext hash kept for a
// file sent from here.
func (s *Store) FindContent(version int, h []byte) *Entry {
	want := hex.EncodeToString(h)
	for _, e := range s.All() {
		m := e.Meta()
		if m.State != StateComplete || e.layout.version() != version {
			continue
		}
		if (version == V3 && m.PlainHash == want) || (version != V3 && m.ContentHash == want) {
			return e
		}
	}
	return nil
}

// Announced records that root was announced in a group (creating the
// entry, state missing, if new). It is idempotent.
func (s *Store) Announced(root [HashLen]byte, l Layout, contentHash []byte, a Announce) (*Entry, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[root]
	if !ok {
		e = &Entry{s: s, root: root, dir: filepath.Join(s.dir, hex.EncodeToString(root[:])), layout: l,
			meta: metaOf(l, contentHash, StateMissing)}
		e.have = make([]byte, (l.Chunks()+7)/8)
		if err := os.MkdirAll(e.dir, 0o700); err != nil {
			return nil, err
		}
		s.entries[root] = e
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.meta.Announced {
		if x == a {
			return e, nil
		}
	}
	e.meta.Announced = append(e.meta.Announced, a)
	return e, e.saveMeta()
}

// reserve accounts n more bytes against the limit.
func (s *Store) reserve(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && s.used+n > s.limit {
		return fmt.Errorf("%w: %d bytes used of %d, %d more needed", ErrLimit, s.used, s.limit, n)
	}
	s.used += n
	return nil
}

// CheckLimit fails when n more bytes would exceed the limit.
func (s *Store) CheckLimit(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && s.used+n > s.limit {
		return fmt.Errorf("%w: %d bytes used of %d, %d more needed", ErrLimit, s.used, s.limit, n)
	}
	return nil
}

func (s *Store) load(root [HashLen]byte) (*Entry, error) {
	e := &Entry{s: s, root: root, dir: filepath.Join(s.dir, hex.EncodeToString(root[:]))}
	raw, err := os.ReadFile(filepath.Join(e.dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &e.meta); err != nil {
		return nil, err
	}
	e.layout = Layout{Size: e.meta.Size, ChunkSize: e.meta.ChunkSize, Version: e.meta.Version}
	if b, err := hex.DecodeString(e.meta.Bind); err == nil && len(b) == HashLen {
		copy(e.layout.Bind[:], b)
	}
	if err := e.layout.check(); err != nil {
		return nil, err
	}
	e.have = make([]byte, (e.layout.Chunks()+7)/8)
	if b, err := os.ReadFile(filepath.Join(e.dir, "have")); err == nil && len(b) == len(e.have) {
		copy(e.have, b)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "leaves")); err == nil && len(b) == e.layout.Chunks()*HashLen && e.layout.rootOf(b) == root {
		e.leaves = b
	}
	if e.leaves == nil && e.meta.State != StateMissing {
		e.meta.State = StatePartial // chunks without a tree cannot be served: fetched again
		clear(e.have)
	}
	return e, nil
}

// metaOf is a new entry's metadata.
func metaOf(l Layout, contentHash []byte, state string) Meta {
	m := Meta{Size: l.Size, ChunkSize: l.ChunkSize, ContentHash: hex.EncodeToString(contentHash), State: state}
	if l.version() != V1 {
		m.Version, m.Bind = l.Version, hex.EncodeToString(l.Bind[:])
	}
	return m
}

// rootOf is the root a hash list names in this layout.
func (l Layout) rootOf(leaves []byte) [HashLen]byte {
	if !l.bound() {
		return Root(leaves)
	}
	return l.fileRoot(l.contentRoot(leaves))
}

// writeFileSync writes a small file atomically and durably.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
