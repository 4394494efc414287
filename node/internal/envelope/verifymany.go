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

// VerifyMany is VerifySigned for each of raws (a sync page): the same
// checks and the same outcome per message, out[i] or errs[i] set for each
// i. It spreads the work over runtime.NumCPU() goroutines and checks each
// distinct batch signature once.
func VerifyMany(g store.GroupID, raws [][]byte) (out []*Verified, errs []error) {
	n := len(raws)
	out, errs = make([]*Verified, n), make([]error, n)
	ps := make([]*pending, n)
	// Decode and check fields, computing ids and Merkle roots.
	parallel(n, func(i int) { ps[i], errs[i] = prepare(g, raws[i]) })

	// One job per distinct signature: every single message, and each
	// batch root not yet known to be verified.
	type job struct {
		p   *pending
		err error
	}
	var jobs []*job
	jobOf := make([]*job, n)
	byKey := map[string]*job{}
	for i, p := range ps {
		if p == nil {
			continue
		}
		if p.cacheKey == "" {
			jobOf[i] = &job{p: p}
			jobs = append(jobs, jobOf[i])
			continue
		}
		if j, ok := byKey[p.cacheKey]; ok {
			jobOf[i] = j
			continue
		}
		if verifiedBatches.has(p.cacheKey) {
			continue // jobOf[i] stays nil: vouched for
		}
		j := &job{p: p}
		byKey[p.cacheKey] = j
		jobOf[i] = j
		jobs = append(jobs, j)
	}
	parallel(len(jobs), func(k int) {
		j := jobs[k]
		if j.err = j.p.checkSignature(); j.err == nil && j.p.cacheKey != "" {
			verifiedBatches.add(j.p.cacheKey)
		}
	})
	parallel(n, func(i int) {
		p := ps[i]
		if p == nil {
			return
		}
		if j := jobOf[i]; j != nil && j.err != nil {
			errs[i] = j.err
			return
		}
		out[i], errs[i] = p.finish()
	})
	return out, errs
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
