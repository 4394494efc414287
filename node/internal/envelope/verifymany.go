package envelope

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/store"
)

// Verifying a page of synced messages: the Ed25519 checks dominate the
// cost of catching up, so they run on every core, and a batch signature
// (one Merkle root for many messages) is checked once per page however
// many of its messages the page holds (and not at all if sigCache already
// vouches for it).

// authorKeys caches parsed author keys. Filled before a signature is
// checked (a junk key costs a parse either way), so it is bounded: cleared
// when full, a miss costing only the parse again.
var authorKeys = struct {
	sync.Mutex
	m map[string]crypto.PubKey
}{m: map[string]crypto.PubKey{}}

const maxAuthorKeys = 4096

func authorKey(author []byte) (crypto.PubKey, error) {
	authorKeys.Lock()
	pub, ok := authorKeys.m[string(author)]
	authorKeys.Unlock()
	if ok {
		return pub, nil
	}
	pub, err := crypto.UnmarshalPublicKey(author)
	if err != nil || pub.Type() != crypto.Ed25519 {
		return nil, ErrBadAuthor
	}
	authorKeys.Lock()
	if len(authorKeys.m) >= maxAuthorKeys {
		clear(authorKeys.m)
	}
	authorKeys.m[string(author)] = pub
	authorKeys.Unlock()
	return pub, nil
}

// Many is Signed for each of raws (a sync page): the same
// outcome per message, out[i] or errs[i] set for each i. It spreads the
// work over runtime.NumCPU() goroutines, checks each distinct batch
// signature once, and checks an author's chain in the page once
// (chain.go): a message that a checked message of the same author names as
// its prev is authentic by hash.
func (v *Verifier) Many(g store.GroupID, raws [][]byte) (out []*Verified, errs []error) {
	out, errs, _ = v.many(g, raws)
	return out, errs
}

// VerifyMany is Many with a Verifier of its own: tools and tests.
func VerifyMany(g store.GroupID, raws [][]byte) (out []*Verified, errs []error) {
	return NewVerifier().Many(g, raws)
}

// many is Many, also returning how many signatures it checked.
func (ver *Verifier) many(g store.GroupID, raws [][]byte) (out []*Verified, errs []error, checked int) {
	n := len(raws)
	out, errs = make([]*Verified, n), make([]error, n)
	ps := make([]*pending, n)
	// Decode and check fields, computing ids and Merkle roots.
	parallel(n, func(i int) { ps[i], errs[i] = prepare(g, raws[i]) })
	c := newChains(ps)
	state := make([]sigState, n)
	for i, p := range ps {
		if p == nil {
			state[i] = sigBad
		}
	}
	// Rounds: check what nothing can vouch for (the newest of each chain,
	// or what lost its voucher to a failed check), then pass each success
	// down its chain. An honest page takes one round.
	for {
		need := c.unvouched(state)
		if len(need) == 0 {
			break
		}
		checked += ver.checkSignatures(ps, need, state, errs)
		c.propagate(state)
	}
	parallel(n, func(i int) {
		if state[i] == sigOK {
			out[i], errs[i] = ps[i].finish()
		}
	})
	return out, errs, checked
}

// checkSignatures checks the signatures of ps[need...], one job per
// distinct signature (a batch root counts once, and not at all if
// sigCache already vouches for it), setting state and errs. It returns how
// many signatures it checked.
func (ver *Verifier) checkSignatures(ps []*pending, need []int, state []sigState, errs []error) int {
	type job struct {
		p   *pending
		err error
	}
	var jobs []*job
	jobOf := make(map[int]*job, len(need))
	byKey := map[string]*job{}
	for _, i := range need {
		p := ps[i]
		if p.cacheKey == "" {
			jobOf[i] = &job{p: p}
			jobs = append(jobs, jobOf[i])
			continue
		}
		if j, ok := byKey[p.cacheKey]; ok {
			jobOf[i] = j
			continue
		}
		if ver.batches.has(p.cacheKey) {
			continue // no job: vouched for
		}
		j := &job{p: p}
		byKey[p.cacheKey] = j
		jobOf[i] = j
		jobs = append(jobs, j)
	}
	parallel(len(jobs), func(k int) {
		j := jobs[k]
		if j.err = j.p.checkSignature(); j.err == nil && j.p.cacheKey != "" {
			ver.batches.add(j.p.cacheKey)
		}
	})
	for _, i := range need {
		if j := jobOf[i]; j != nil && j.err != nil {
			state[i], errs[i] = sigBad, j.err
		} else {
			state[i] = sigOK
		}
	}
	return len(jobs)
}

// parallel runs fn(0..n-1) on up to runtime.NumCPU() goroutines, each
// taking the next index (items differ in cost: a signature or none).
func parallel(n int, fn func(i int)) {
	workers := min(runtime.NumCPU(), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
