package files

import (
	"context"
	"crypto/sha256"
	"hash"
	"sync"
)

// hasher follows a fetch: it decrypts the chunks in order as they become
// contiguous (verified and written) and hashes the plaintext, so the
// content hash is known when the last chunk lands, without a second pass
// over the file. It reads each chunk back from the data file (page cache),
// Chunks that arrive in order are handed over in the receiver's buffer
// (offer), so only chunks out of order are read back from the data file.
type hasher struct {
	f    *fetch
	wake chan struct{}
	in   chan held // verified, written chunks in their receive buffers
	done chan struct{}
	sum  []byte
	err  error // ErrDecrypt: a chunk in the tree fails under the key
	bufs sync.Pool
}

// held is chunk i's sealed bytes in a buffer of the hasher's pool.
type held struct {
	i   int
	buf *[]byte
}

// maxAhead bounds the chunks handed over ahead of the one being hashed.
const maxAhead = 8

func newHasher(f *fetch) *hasher {
	size := f.l.ChunkSize + Overhead
	h := &hasher{f: f, wake: make(chan struct{}, 1), in: make(chan held, maxAhead), done: make(chan struct{})}
	h.bufs.New = func() any { b := make([]byte, size); return &b }
	return h
}

// buffer is a receive buffer of one sealed chunk.
func (h *hasher) buffer() *[]byte { return h.bufs.Get().(*[]byte) }

// offer hands chunk i, verified and written, to the hasher; it is dropped
// (and read back later) when the hasher is too far behind.
func (h *hasher) offer(i int, buf *[]byte) {
	select {
	case h.in <- held{i, buf}:
	default:
		h.bufs.Put(buf)
	}
}

func (h *hasher) poke() {
	if h == nil {
		return
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hasher) run(ctx context.Context) {
	defer close(h.done)
	a, err := aead(h.f.cfg.Key)
	if err != nil {
		h.err = ErrDecrypt // a key of the wrong length: the announcement lies
		return
	}
	l := h.f.l
	var sum hash.Hash = sha256.New()
	var buf, plain []byte
	ahead := map[int]*[]byte{} // handed over before their turn
	defer func() {
		for _, b := range ahead {
			h.bufs.Put(b)
		}
	}()
	take := func(c held) {
		if _, dup := ahead[c.i]; dup || len(ahead) >= maxAhead {
			h.bufs.Put(c.buf)
			return
		}
		ahead[c.i] = c.buf
	}
	for i := 0; i < l.Chunks(); {
		for drained := false; !drained; {
			select {
			case c := <-h.in:
				take(c)
			default:
				drained = true
			}
		}
		var sealed []byte
		if b := ahead[i]; b != nil {
			sealed = (*b)[:l.Sealed(i)]
		} else {
			h.f.mu.Lock()
			ready := h.f.got[i]
			h.f.mu.Unlock()
			if !ready {
				select {
				case <-ctx.Done():
					h.err = ctx.Err()
					return
				case <-h.wake:
				case c := <-h.in:
					take(c)
				}
				continue
			}
			if buf, err = h.f.e.readSlot(i, buf); err != nil {
				h.err = err
				return
			}
			sealed = buf
		}
		plain, err = openChunk(a, plain[:0], l.Size, i, sealed)
		if b := ahead[i]; b != nil {
			delete(ahead, i)
			h.bufs.Put(b)
		}
		if err != nil {
			h.err = err
			return
		}
		sum.Write(plain)
		for j := range ahead { // stale: hashed from the file already
			if j <= i {
				h.bufs.Put(ahead[j])
				delete(ahead, j)
			}
		}
		i++
	}
	h.sum = sum.Sum(nil)
}

// result waits for the hash of the whole content.
func (h *hasher) result(ctx context.Context) ([]byte, error) {
	select {
	case <-h.done:
		return h.sum, h.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
