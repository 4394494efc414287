package bench

import (
	"math/rand/v2"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// topology is who dials whom. parent[i] (i > 0) is an earlier node that
// node i joins through (its invite's inviter), so the join dial is one of
// the topology's edges. edges lists every dial, parent edges included.
type topology struct {
	parent []int
	edges  [][2]int
}

// newTopology builds a full mesh when n <= degree+1, otherwise a random
// graph: each node dials its parent (a random earlier node: the graph is
// connected) and then random others until it has dialled degree peers.
func newTopology(n, degree int, rng *rand.Rand) topology {
	t := topology{parent: make([]int, n)}
	seen := map[[2]int]bool{}
	add := func(a, b int) bool {
		if a == b {
			return false
		}
		k := [2]int{min(a, b), max(a, b)}
		if seen[k] {
			return false
		}
		seen[k] = true
		t.edges = append(t.edges, [2]int{a, b})
		return true
	}
	if n <= degree+1 {
		for i := 1; i < n; i++ {
			add(i, 0)
		}
		for i := 1; i < n; i++ {
			for j := 1; j < i; j++ {
				add(i, j)
			}
		}
		return t
	}
	for i := 1; i < n; i++ {
		t.parent[i] = rng.IntN(i)
		add(i, t.parent[i])
	}
	for i := range n {
		dialled := 0
		for _, e := range t.edges {
			if e[0] == i {
				dialled++
			}
		}
		for tries := 0; dialled < degree && tries < 10*degree; tries++ {
			if add(i, rng.IntN(n)) {
				dialled++
			}
		}
	}
	return t
}

func newKey() (crypto.PrivKey, error) {
	k, _, err := crypto.GenerateEd25519Key(nil)
	return k, err
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }
