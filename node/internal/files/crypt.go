package files

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeyLen is a file key's length; Overhead is what sealing adds to a chunk
// (the same 16-byte tag in both formats, so the data file's slots match).
const (
	KeyLen   = chacha20poly1305.KeySize
	Overhead = chacha20poly1305.Overhead
)

// Format versions (FileAnnounce.version; 0 on the wire is V1).
//
// V1: ChaCha20-Poly1305, hash tree over the sealed chunks, content hash =
// SHA-256 of the plaintext (a second pass to check). V2: AES-256-GCM
// (hardware-accelerated), hash tree over the plaintext chunks whose root is
// the content hash, and the file's root binds that to the key; a fetched
// chunk is decrypted and hashed once, and the content hash needs no pass of
// its own. V3: as V2, but the tree is over the sealed chunks: a fetched
// chunk is hashed and written as it came, never decrypted (that waits until
// the file is read). See docs/files.md.
const (
	V1 = 1
	V2 = 2
	V3 = 3
	// Current is the format new files are sent in.
	Current = V3
)

// ErrDecrypt: a chunk failed authentication under the file's key.
var ErrDecrypt = errors.New("chunk failed to decrypt")

// ErrVersion: an announcement in a format this build does not know.
var ErrVersion = errors.New("unsupported file format version (sent by a newer Parley)")

// Every file has its own random key, so the chunk index is a unique nonce;
// the size and index are bound as associated data, so chunks cannot be
// reordered or moved between files of other sizes unnoticed.
func (l Layout) aead(key []byte) (cipher.AEAD, error) {
	if l.version() == V1 {
		return chacha20poly1305.New(key)
	}
	if len(key) != KeyLen {
		return nil, fmt.Errorf("file key of %d bytes", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// nonceAD fills a chunk's nonce (4 zero bytes || index) and associated
// data (domain || size || index) into fixed arrays: no allocation per chunk.
type nonceAD struct {
	nonce [12]byte
	ad    [len("parley/file/vN") + 16]byte
}

func (l Layout) nonceAD(i int, x *nonceAD) {
	binary.BigEndian.PutUint64(x.nonce[4:], uint64(i))
	copy(x.ad[:], l.domain())
	binary.BigEndian.PutUint64(x.ad[len(x.ad)-16:], l.Size)
	binary.BigEndian.PutUint64(x.ad[len(x.ad)-8:], uint64(i))
}

func (l Layout) sealChunk(a cipher.AEAD, dst []byte, i int, plain []byte) []byte {
	var x nonceAD
	l.nonceAD(i, &x)
	return a.Seal(dst, x.nonce[:], plain, x.ad[:])
}

func (l Layout) openChunk(a cipher.AEAD, dst []byte, i int, sealed []byte) ([]byte, error) {
	var x nonceAD
	l.nonceAD(i, &x)
	out, err := a.Open(dst, x.nonce[:], sealed, x.ad[:])
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// Layout is a file's format and chunking, from its announcement.
type Layout struct {
	Size      uint64
	ChunkSize int
	// Version is the format (0 means V1, as an announcement without one).
	Version int
	// Bind (V2, V3) is the key bind of the file's key: the root commits to
	// it, so the hash list can be checked against the root without the key.
	Bind [HashLen]byte
}

// LayoutOf is the layout an announcement describes.
func LayoutOf(size uint64, chunkSize uint32, version uint32, key []byte) Layout {
	l := Layout{Size: size, ChunkSize: int(chunkSize), Version: int(min(version, 1<<16))}
	if l.bound() {
		l.Bind = keyBindIn(l.domain(), key)
	}
	return l
}

// bound tells whether the root binds the key (V2 and later).
func (l Layout) bound() bool { return l.version() >= V2 }

// sealedTree tells whether the leaves hash the sealed chunks (V1, V3)
// rather than the plaintext (V2).
func (l Layout) sealedTree() bool { return l.version() != V2 }

func (l Layout) version() int {
	if l.Version == 0 {
		return V1
	}
	return l.Version
}

func (l Layout) domain() []byte {
	switch l.version() {
	case V1:
		return domainV1
	case V2:
		return domainV2
	}
	return domainV3
}

// Chunks is how many chunks the file has.
func (l Layout) Chunks() int {
	if l.ChunkSize <= 0 {
		return 0
	}
	return int((l.Size + uint64(l.ChunkSize) - 1) / uint64(l.ChunkSize))
}

// Plain is the plaintext length of chunk i.
func (l Layout) Plain(i int) int {
	rest := l.Size - uint64(i)*uint64(l.ChunkSize)
	return int(min(rest, uint64(l.ChunkSize)))
}

// Sealed is the sealed length of chunk i.
func (l Layout) Sealed(i int) int { return l.Plain(i) + Overhead }

// offset is where chunk i starts in the data file (fixed slots).
func (l Layout) offset(i int) int64 { return int64(i) * int64(l.ChunkSize+Overhead) }

// Limits on what a peer may make us allocate.
const (
	DefaultChunkSize = 256 << 10
	MaxChunkSize     = 1 << 20
	// MaxChunks bounds a file's chunk count (and so the tree and bitfield a
	// peer may send); with 1 MiB chunks files reach 256 GiB.
	MaxChunks = 1 << 18
)

// ChunkSizeFor picks the chunk size for a file of size bytes: the default,
// doubled while the file would have more than MaxChunks chunks.
func ChunkSizeFor(size uint64) int {
	cs := DefaultChunkSize
	for cs < MaxChunkSize && (size+uint64(cs)-1)/uint64(cs) > MaxChunks {
		cs *= 2
	}
	return cs
}

// ErrTooLarge: more chunks than MaxChunks.
var ErrTooLarge = errors.New("file too large for its chunk size")

func (l Layout) check() error {
	if v := l.version(); v != V1 && v != V2 && v != V3 {
		return fmt.Errorf("%w: %d", ErrVersion, v)
	}
	if l.ChunkSize <= 0 || l.ChunkSize > MaxChunkSize {
		return errors.New("bad chunk size")
	}
	if l.Chunks() > MaxChunks {
		return ErrTooLarge
	}
	return nil
}
