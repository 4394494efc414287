package files

import (
	"crypto/sha256"
	"errors"
	"hash"
)

// HashLen is the length of leaf, node and root hashes.
const HashLen = 32

// Domain separation: a leaf can never be read as an inner node or as the
// root of an empty file.
const (
	leafTag  = 0x00
	nodeTag  = 0x01
	emptyTag = 0x02
	rootTag  = 0x03 // V2, V3: root = H(domain || 0x03 || content root || key bind)
	keyTag   = 0x04 // V2, V3: key bind = H(domain || 0x04 || key)
)

var (
	domainV1 = []byte("parley/file/v1")
	domainV2 = []byte("parley/file/v2")
	domainV3 = []byte("parley/file/v3")
)

// ErrBadProof: a chunk does not hash to the tree it was said to be part of.
var ErrBadProof = errors.New("chunk does not match the file's hash tree")

// LeafHash hashes one sealed chunk (V1).
func LeafHash(sealed []byte) [HashLen]byte { return leafHash(sha256.New(), domainV1, sealed) }

// leafHash hashes a chunk with h (reset first, so a worker reuses one):
// the sealed chunk in V1 and V3, the plaintext in V2.
func leafHash(h hash.Hash, dom, b []byte) [HashLen]byte {
	h.Reset()
	h.Write(dom)
	h.Write([]byte{leafTag})
	h.Write(b)
	var out [HashLen]byte
	h.Sum(out[:0])
	return out
}

// keyBindIn (V2, V3) commits to a file's key without revealing it.
func keyBindIn(dom, key []byte) [HashLen]byte {
	return sha256.Sum256(append(append(append([]byte{}, dom...), keyTag), key...))
}

// fileRootIn (V2, V3) names a file: its content root bound to its key.
func fileRootIn(dom []byte, content, bind [HashLen]byte) [HashLen]byte {
	b := append(append([]byte{}, dom...), rootTag)
	b = append(append(b, content[:]...), bind[:]...)
	return sha256.Sum256(b)
}

// contentRoot (V2, V3) is the root of the tree over the leaves: the
// announced content hash (V3: of the sealed chunks, so it names the
// content under this file's key only).
func (l Layout) contentRoot(leaves []byte) [HashLen]byte { return treeRoot(l.domain(), leaves) }

// fileRoot (V2, V3) binds a content root to the layout's key.
func (l Layout) fileRoot(content [HashLen]byte) [HashLen]byte {
	return fileRootIn(l.domain(), content, l.Bind)
}

func nodeHash(l, r []byte) [HashLen]byte { return nodeHashIn(domainV1, l, r) }

func nodeHashIn(dom, l, r []byte) [HashLen]byte {
	h := sha256.New()
	h.Write(dom)
	h.Write([]byte{nodeTag})
	h.Write(l)
	h.Write(r)
	var out [HashLen]byte
	h.Sum(out[:0])
	return out
}

// Root is the V1 root over leaf hashes (concatenated, 32 bytes each). A
// level of odd length promotes its last hash unchanged.
func Root(leaves []byte) [HashLen]byte { return treeRoot(domainV1, leaves) }

func treeRoot(dom, leaves []byte) [HashLen]byte {
	n := len(leaves) / HashLen
	if n == 0 {
		return sha256.Sum256(append(append([]byte{}, dom...), emptyTag))
	}
	level := make([][]byte, n)
	for i := range level {
		level[i] = leaves[i*HashLen : (i+1)*HashLen]
	}
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			h := nodeHashIn(dom, level[i], level[i+1])
			next = append(next, h[:])
		}
		level = next
	}
	var out [HashLen]byte
	copy(out[:], level[0])
	return out
}

// Proof lists the sibling hashes of leaf i from the bottom up (levels where
// i's node is promoted contribute nothing).
func Proof(leaves []byte, i int) [][]byte { return proofFrom(levels(domainV1, leaves), i) }

// levels builds every level of the tree, leaves first.
func levels(dom, leaves []byte) [][][]byte {
	n := len(leaves) / HashLen
	level := make([][]byte, n)
	for j := range level {
		level[j] = leaves[j*HashLen : (j+1)*HashLen]
	}
	out := [][][]byte{level}
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for j := 0; j < len(level); j += 2 {
			if j+1 == len(level) {
				next = append(next, level[j])
				continue
			}
			h := nodeHashIn(dom, level[j], level[j+1])
			next = append(next, h[:])
		}
		level = next
		out = append(out, level)
	}
	return out
}

func proofFrom(lv [][][]byte, i int) [][]byte {
	var proof [][]byte
	for _, level := range lv[:len(lv)-1] {
		if sib := i ^ 1; sib < len(level) {
			proof = append(proof, level[sib])
		}
		i /= 2
	}
	return proof
}

// Verify checks that leaf is leaf i of n under root.
func Verify(root [HashLen]byte, n, i int, leaf [HashLen]byte, proof [][]byte) error {
	if i < 0 || i >= n {
		return ErrBadProof
	}
	cur := leaf
	width := n
	for width > 1 {
		sib := i ^ 1
		if sib < width {
			if len(proof) == 0 || len(proof[0]) != HashLen {
				return ErrBadProof
			}
			if i&1 == 0 {
				cur = nodeHash(cur[:], proof[0])
			} else {
				cur = nodeHash(proof[0], cur[:])
			}
			proof = proof[1:]
		}
		width, i = (width+1)/2, i/2
	}
	if len(proof) != 0 || cur != root {
		return ErrBadProof
	}
	return nil
}
