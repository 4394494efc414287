package membership

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// verify is ed25519.Verify that remembers the signatures it found good.
// A log checks the same signatures again and again: every node replays its
// stored log when it opens a group, a read-only view replays it beside the
// running node, and an op inserted beside a concurrent one rebuilds the
// state of its causal past, checking every invite proof in it once more
// (forming a 100-member group in one process spent most of its CPU there).
// Only good results are kept, under a SHA-256 of key, message and signature,
// so a remembered answer is the one ed25519.Verify gave for exactly those
// bytes; a bad signature is checked every time.
func verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	k := sigKey(pub, msg, sig)
	if goodSigs.has(k) {
		return true
	}
	if !ed25519.Verify(pub, msg, sig) {
		return false
	}
	goodSigs.add(k)
	return true
}

// maxGoodSigs bounds the memory of good signatures (32 bytes each); when
// full it starts again.
const maxGoodSigs = 1 << 15

var goodSigs = sigMemo{m: map[[sha256.Size]byte]struct{}{}}

type sigMemo struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]struct{}
}

func (c *sigMemo) has(k [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

func (c *sigMemo) add(k [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxGoodSigs {
		clear(c.m)
	}
	c.m[k] = struct{}{}
}

// sigKey binds key, message and signature, each length-prefixed.
func sigKey(pub, msg, sig []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, b := range [][]byte{pub, msg, sig} {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
