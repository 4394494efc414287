package envelope

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/parley-chat/parley/store"
)

// One signature per send batch: the batch's message ids are the leaves of a
// Merkle tree and the author signs its root once (see BatchProof in
// wire.proto and docs/crypto.md). Each message carries its path to the root,
// so it stays verifiable alone when it is stored and synced later; a
// receiver verifies each distinct root's signature once (sigCache).

// MaxBatchLeaves bounds the messages one batch signature covers (and so a
// proof's length: at most 8 hashes).
const MaxBatchLeaves = 256

var (
	nodeDomain  = []byte("parley/node/v1")
	batchDomain = []byte("parley/batch/v1")
)

func nodeHash(left, right []byte) []byte {
	h := sha256.New()
	h.Write(nodeDomain)
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// MerkleProofs returns the root over leaves and, per leaf, its sibling path.
// MerkleProofs returns the root over leaves and, per leaf, its sibling path.
func MerkleProofs(leaves []store.MessageID) (root []byte, paths [][][]byte) {
	level := make([][]byte, len(leaves))
	for i := range leaves {
		level[i] = leaves[i][:]
	}
	paths = make([][][]byte, len(leaves))
	pos := make([]int, len(leaves)) // each leaf's position in the current level
	for i := range pos {
		pos[i] = i
	}
	for len(level) > 1 {
		w := len(level)
		for i, p := range pos {
			switch {
			case p%2 == 1:
				paths[i] = append(paths[i], level[p-1])
			case p+1 < w:
				paths[i] = append(paths[i], level[p+1])
			}
			pos[i] = p / 2
		}
		next := make([][]byte, 0, (w+1)/2)
		for j := 0; j < w; j += 2 {
			if j+1 < w {
				next = append(next, nodeHash(level[j], level[j+1]))
			} else {
				next = append(next, level[j]) // no sibling: moves up unchanged
			}
		}
		level = next
	}
	return level[0], paths
}

// MerkleRoot recomputes the root from a leaf and its proof; ok is false when
// the path does not have exactly the shape (index, count) implies.
func MerkleRoot(leaf store.MessageID, index, count uint32, path [][]byte) (root []byte, ok bool) {
	if count < 2 || count > MaxBatchLeaves || index >= count {
		return nil, false
	}
	h, p, w, k := leaf[:], index, count, 0
	for w > 1 {
		hasSibling := p%2 == 1 || p+1 < w
		if hasSibling {
			if k >= len(path) || len(path[k]) != sha256.Size {
				return nil, false
			}
			if p%2 == 1 {
				h = nodeHash(path[k], h)
			} else {
				h = nodeHash(h, path[k])
			}
			k++
		}
		p, w = p/2, (w+1)/2
	}
	return h, k == len(path)
}

// BatchSigned is the byte string a batch signature covers.
func BatchSigned(count uint32, root []byte) []byte {
	b := make([]byte, 0, len(batchDomain)+4+len(root))
	b = append(b, batchDomain...)
	b = binary.BigEndian.AppendUint32(b, count)
	return append(b, root...)
}

// sigCache remembers batch signatures already checked, so the other
// messages of a batch (from gossip or, later, from sync) cost hashes only.
// Each Verifier has its own: a node in its own process would gain nothing
// from sharing it, and nodes sharing a process (the benchmark, tests) must
// each pay for their own checks, as separate processes would.
type sigCache struct {
	mu  sync.Mutex
	m   map[string]struct{}
	max int
}

func newSigCache() *sigCache { return &sigCache{m: map[string]struct{}{}, max: 4096} }

func sigCacheKey(author []byte, count uint32, root, sig []byte) string {
	b := make([]byte, 0, len(author)+4+len(root)+len(sig)+2)
	b = binary.AppendUvarint(b, uint64(len(author)))
	b = append(b, author...)
	b = binary.BigEndian.AppendUint32(b, count)
	b = append(b, root...)
	return string(append(b, sig...))
}

func (c *sigCache) has(k string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

func (c *sigCache) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m) // bounded; a miss only costs a verification
	}
	c.m[k] = struct{}{}
}
