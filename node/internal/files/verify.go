package files

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// Verifier checks received chunks against an entry's tree and writes them.
// One per worker: it holds the cipher, a hash state and a plaintext buffer
// reused for every chunk.
type Verifier struct {
	e      *Entry
	l      Layout
	a      cipher.AEAD // V2 only: its tree is over the plaintext
	h      hash.Hash
	plain  []byte
	leaves []byte
}

// NewVerifier checks chunks of e (whose tree must be known) under key.
func (e *Entry) NewVerifier(key []byte) (*Verifier, error) {
	leaves := e.Leaves()
	if leaves == nil {
		return nil, ErrMissing
	}
	v := &Verifier{e: e, l: e.layout, h: sha256.New(), leaves: leaves}
	if !v.l.sealedTree() {
		a, err := v.l.aead(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
		v.a, v.plain = a, make([]byte, 0, e.layout.ChunkSize)
	}
	return v, nil
}

// Check tells whether sealed is chunk i of the file: V1 and V3 hash the
// sealed bytes (nothing is decrypted); V2 decrypts them (the tag
// authenticates them under the key) and hashes the plaintext, once.
// Anything else is ErrBadProof.
func (v *Verifier) Check(i int, sealed []byte) error {
	if i < 0 || i >= v.l.Chunks() {
		return ErrMissing
	}
	if len(sealed) != v.l.Sealed(i) {
		return ErrBadProof
	}
	b := sealed
	if v.a != nil {
		plain, err := v.l.openChunk(v.a, v.plain[:0], i, sealed)
		if err != nil {
			return fmt.Errorf("%w: chunk %d does not decrypt", ErrBadProof, i)
		}
		b = plain
	}
	if h := leafHash(v.h, v.l.domain(), b); !bytes.Equal(h[:], v.leaves[i*HashLen:(i+1)*HashLen]) {
		return ErrBadProof
	}
	return nil
}

// Put checks chunk i and writes it (durable after the next Sync).
func (v *Verifier) Put(i int, sealed []byte) error {
	if err := v.Check(i, sealed); err != nil {
		return err
	}
	return v.e.writeChunk(i, sealed)
}

// job is a received chunk waiting for a worker, in a buffer of the pool.
type job struct {
	i   int
	buf *[]byte
	sc  *streamCtl
}

// streamCtl is what workers report to the stream a chunk came from: the
// first verification error aborts the stream, which waits for its chunks
// in the workers before it ends and strikes the peer.
type streamCtl struct {
	s    Stream
	jobs sync.WaitGroup
	mu   sync.Mutex
	err  error
}

func (c *streamCtl) fail(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
	}
	c.mu.Unlock()
	if first {
		reset(c.s) // the reader stops at once
	}
}

func (c *streamCtl) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// bufCount bounds the chunks received and not yet verified and written (a
// stream's reader waits for a free buffer): memory stays a few chunks (4
// MiB of 256 KiB chunks), enough that a worker waiting on the disk does not
// stop the streams.
const bufCount = 16

// fetchWorkers is the least number of verify-and-write workers.
const fetchWorkers = 4

// startWorkers starts n verify-and-write workers (they run beside the
// streams' readers). stop waits for them after every reader has ended.
func (f *fetch) startWorkers(n int) (stop func(), err error) {
	size := f.l.ChunkSize + Overhead
	f.free = make(chan *[]byte, bufCount)
	for range bufCount {
		b := make([]byte, size)
		f.free <- &b
	}
	f.jobs = make(chan job, bufCount)
	var wg sync.WaitGroup
	for range n {
		v, err := f.e.NewVerifier(f.cfg.Key)
		if err != nil {
			close(f.jobs)
			wg.Wait()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range f.jobs {
				f.work(v, j)
			}
		}()
	}
	return func() { close(f.jobs); wg.Wait() }, nil
}

func (f *fetch) work(v *Verifier, j job) {
	defer j.sc.jobs.Done()
	sealed := (*j.buf)[:f.l.Sealed(j.i)]
	err := v.Put(j.i, sealed)
	f.free <- j.buf
	if err != nil {
		f.giveBack(j.i, j.i+1)
		j.sc.fail(err)
		return
	}
	f.stored(j.i)
}

// buffer waits for a free receive buffer.
func (f *fetch) buffer(ctx context.Context) (*[]byte, error) {
	select {
	case b := <-f.free:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
