package files

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/files/filepb"
)

// errPaused ends a session when the disk is full.
var errPaused = errors.New("fetch paused: disk full")

// peer runs PerPeer sessions against one peer until it is dropped, has
// nothing more we need, or the fetch ends.
func (f *fetch) peer(ctx context.Context, p peer.ID) {
	defer func() {
		f.mu.Lock()
		delete(f.active, p)
		f.mu.Unlock()
	}()
	done := make(chan struct{}, f.cfg.PerPeer)
	for range f.cfg.PerPeer {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil && !f.isDropped(p) && f.stream(ctx, p) {
			}
		}()
	}
	for range f.cfg.PerPeer {
		<-done
	}
}

// stream runs one stream to p: it asks for p's bitfield, then keeps Depth
// range requests ahead of the chunks it reads back, checks each chunk
// against the tree before writing it, and gives back whatever it did not
// get. It reports whether to open a new stream at once (after a strike
// that did not drop the peer).
func (f *fetch) stream(ctx context.Context, p peer.ID) bool {
	s, err := f.cfg.Open(ctx, p)
	if err != nil {
		return false // unreachable now: the main loop tries again later
	}
	defer s.Close()
	// A read waits up to StallTimeout; the end of the fetch must not.
	defer context.AfterFunc(ctx, func() { reset(s) })()
	br := bufio.NewReaderSize(s, 64<<10)
	var resp filepb.Response
	if err := f.ask(s, br, &filepb.Request{Kind: &filepb.Request_Have{Have: true}}, &resp); err != nil || resp.Status != filepb.Status_OK {
		if err == nil && resp.Status == filepb.Status_REFUSED {
			f.strike(p, ErrRefused)
		} else if errors.Is(err, ErrStalled) {
			return !f.strike(p, err)
		}
		return false
	}
	bf := resp.Bitfield
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan span, f.cfg.Depth)
	reqDone := make(chan struct{})
	go func() { // asks ahead; the reader below follows in order
		defer close(reqDone)
		defer close(queue)
		root := f.e.Root()
		for {
			r, ok := f.pickRange(bf)
			if !ok {
				return
			}
			select {
			case queue <- r:
			case <-sctx.Done():
				f.giveBack(r.first, r.first+r.count)
				return
			}
			req := &filepb.Request{Root: root[:], Kind: &filepb.Request_Range{Range: &filepb.Range{First: uint32(r.first), Count: uint32(r.count)}}}
			if err := writeFrame(s, req); err != nil {
				return // the reader fails on the broken stream too
			}
		}
	}()
	sc := &streamCtl{s: s}
	err = f.receive(sctx, s, br, queue, sc)
	cancel()
	if err != nil {
		reset(s) // unblocks a request write
	}
	<-reqDone
	for r := range queue {
		f.giveBack(r.first, r.first+r.count)
	}
	sc.jobs.Wait() // its chunks are checked and written, or given back
	if werr := sc.failed(); werr != nil {
		err = werr // a worker's verdict, not the reset it caused
	}
	switch {
	case err == nil:
		return false // nothing more to ask of p now
	case errors.Is(err, ErrBadProof) || errors.Is(err, ErrStalled) || errors.Is(err, ErrProtocol):
		return !f.strike(p, err)
	case errors.Is(err, ErrRefused):
		f.strike(p, err)
		return false
	case errors.Is(err, errPaused) || errors.Is(err, ErrMissing):
		return false
	default:
		if ctx.Err() == nil {
			f.cfg.Log.Debug("file stream", "peer", p, "err", err)
		}
		return false
	}
}

// reset aborts a stream (a libp2p stream is reset, anything else closed).
func reset(s Stream) {
	if rs, ok := s.(interface{ Reset() error }); ok {
		rs.Reset()
	} else {
		s.Close()
	}
}

// receive reads the answers to the queued ranges in order into free
// buffers and hands each chunk to the workers, which check it against the
// tree before writing it. On an error the chunks of the current range not
// yet read are given back.
func (f *fetch) receive(ctx context.Context, s Stream, br *bufio.Reader, queue <-chan span, sc *streamCtl) error {
	for r := range queue {
		for i := r.first; i < r.first+r.count; i++ {
			buf, err := f.buffer(ctx)
			if err == nil {
				if err = sc.failed(); err == nil {
					err = f.receiveChunk(s, br, i, *buf, i == r.first)
				}
				if err != nil {
					f.free <- buf
				}
			}
			if err != nil {
				f.giveBack(i, r.first+r.count)
				return err
			}
			sc.jobs.Add(1)
			f.jobs <- job{i: i, buf: buf, sc: sc} // never blocks: one slot per buffer
		}
	}
	return nil
}

// receiveChunk reads chunk i; first (of a range, at most 4 MiB) checks the
// free space before it is written.
func (f *fetch) receiveChunk(s Stream, br *bufio.Reader, i int, buf []byte, first bool) error {
	s.SetDeadline(time.Now().Add(f.cfg.StallTimeout))
	var h filepb.Response
	if err := readFrame(br, maxHeader, &h); err != nil {
		return err
	}
	switch {
	case h.Status == filepb.Status_REFUSED:
		return ErrRefused
	case h.Status != filepb.Status_OK:
		return fmt.Errorf("%w: status %s", ErrMissing, h.Status)
	case int(h.Chunk) != i:
		return fmt.Errorf("%w: chunk %d instead of %d", ErrProtocol, h.Chunk, i)
	case int(h.DataLen) != f.l.Sealed(i):
		return fmt.Errorf("%w: chunk %d of %d bytes", ErrBadProof, i, h.DataLen)
	}
	data := buf[:h.DataLen]
	if _, err := io.ReadFull(br, data); err != nil {
		return wrapTimeout(err)
	}
	if first && !f.checkSpace() {
		return errPaused
	}
	return nil
}

// ask sends one request and reads its single answer.
func (f *fetch) ask(s Stream, br *bufio.Reader, req *filepb.Request, resp *filepb.Response) error {
	root := f.e.Root()
	req.Root = root[:]
	s.SetDeadline(time.Now().Add(f.cfg.StallTimeout))
	if err := writeFrame(s, req); err != nil {
		return wrapTimeout(err)
	}
	return readFrame(br, maxResponse, resp)
}

// maxHeader bounds a range answer's header frame.
const maxHeader = 64

// writeFrame writes a varint-length-prefixed message in one write.
func writeFrame(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	out := binary.AppendUvarint(make([]byte, 0, len(b)+binary.MaxVarintLen64), uint64(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}

// readFrame reads a varint-length-prefixed message of at most max bytes.
func readFrame(br *bufio.Reader, max int, m proto.Message) error {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return wrapTimeout(err)
	}
	if n > uint64(max) {
		return fmt.Errorf("%w: frame of %d bytes", ErrProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return wrapTimeout(err)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return nil
}

func wrapTimeout(err error) error {
	if isTimeout(err) {
		return fmt.Errorf("%w: %v", ErrStalled, err)
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// getTree asks peers for the hash list until one matches the root; an
// error (ErrFailed: the announcement lies about its key) ends the fetch.
func (f *fetch) getTree(ctx context.Context) error {
	for _, p := range f.cfg.Peers() {
		if f.isDropped(p) {
			continue
		}
		s, err := f.cfg.Open(ctx, p)
		if err != nil {
			continue
		}
		var resp filepb.Response
		err = f.ask(s, bufio.NewReader(s), &filepb.Request{Kind: &filepb.Request_Tree{Tree: true}}, &resp)
		s.Close()
		if err != nil || resp.Status != filepb.Status_OK {
			if err == nil && resp.Status == filepb.Status_REFUSED {
				f.strike(p, ErrRefused)
			} else if errors.Is(err, ErrStalled) {
				f.strike(p, err)
			}
			continue
		}
		if err := f.e.SetLeaves(resp.Leaves); err != nil {
			if errors.Is(err, ErrBadProof) {
				f.strike(p, err)
				continue
			}
			if errors.Is(err, ErrFailed) {
				return err
			}
			f.cfg.Log.Warn("file tree", "err", err)
			return nil
		}
		return nil
	}
	return nil
}
