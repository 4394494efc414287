package files

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeyLen is a file key's length; Overhead is what sealing adds to a chunk.
const (
	KeyLen   = chacha20poly1305.KeySize
	Overhead = chacha20poly1305.Overhead
)

// ErrDecrypt: a chunk failed authentication under the file's key.
var ErrDecrypt = errors.New("chunk failed to decrypt")

// Every file has its own random key, so the chunk index is a unique nonce;
// the size and index are bound as associated data, so chunks cannot be
// reordered or moved between files of other sizes unnoticed.
func aead(key []byte) (cipher.AEAD, error) { return chacha20poly1305.New(key) }

func nonceAD(size uint64, i int) (nonce, ad []byte) {
	nonce = make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(nonce[4:], uint64(i))
	ad = make([]byte, 0, 8+8+len(domain))
	ad = append(ad, domain...)
	ad = binary.BigEndian.AppendUint64(ad, size)
	ad = binary.BigEndian.AppendUint64(ad, uint64(i))
	return nonce, ad
}

func sealChunk(a cipher.AEAD, dst []byte, size uint64, i int, plain []byte) []byte {
	nonce, ad := nonceAD(size, i)
	return a.Seal(dst, nonce, plain, ad)
}

func openChunk(a cipher.AEAD, dst []byte, size uint64, i int, sealed []byte) ([]byte, error) {
	nonce, ad := nonceAD(size, i)
	out, err := a.Open(dst, nonce, sealed, ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// Layout is a file's chunking, derived from its size and chunk size.
type Layout struct {
	Size      uint64
	ChunkSize int
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
	if l.ChunkSize <= 0 || l.ChunkSize > MaxChunkSize {
		return errors.New("bad chunk size")
	}
	if l.Chunks() > MaxChunks {
		return ErrTooLarge
	}
	return nil
}
